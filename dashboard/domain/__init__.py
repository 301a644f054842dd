"""Pure domain maths: no I/O, Decimal for money and percentages (see docs/domain.md §2)."""
