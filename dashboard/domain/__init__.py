"""Pure domain maths: no I/O, Decimal for money and percentages (see shared/docs/domain.md)."""
