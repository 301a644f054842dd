"""Pure, reproducible demo-data generators (docs/domain.md §5).

Nothing here touches the database or the clock: every generator takes a seed (or a
`random.Random` derived from one) so the seeder, the live simulator and the tests all see the same
numbers. Floats are only used inside the random-walk maths; everything handed out that is money, a
price, a volume or a percentage is a quantised `Decimal`.
"""
