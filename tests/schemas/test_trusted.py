"""`trusted` builds read models from typed rows without `model_construct`'s loop: it must give the
very model `model_construct` gives (fields, equality, JSON, copies), for every model it is used on."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from dashboard.schemas.common import ReadModel, trusted
from dashboard.schemas.guards import EquityPoint

POINT = {
    "ts": datetime(2026, 11, 30, 12, 0, tzinfo=UTC),
    "balance": Decimal("10000.00"),
    "equity": Decimal("9876.54"),
    "hwm": Decimal("10100.00"),
    "drawdown_pct": Decimal("2.2125"),
}


@pytest.mark.parametrize(("model", "values"), [(EquityPoint, POINT)])
def test_trusted_is_model_construct(model: type[ReadModel], values: dict[str, object]) -> None:
    assert set(values) == set(model.model_fields)  # only flat models with every field given
    built = trusted(model, dict(values))
    reference = model.model_construct(**values)
    assert built == reference and type(built) is model
    assert built.model_dump_json() == reference.model_dump_json()
    assert built.model_fields_set == reference.model_fields_set
    assert built.model_copy(update={"equity": Decimal(1)}).equity == Decimal(1)
    assert model.model_validate_json(built.model_dump_json()) == reference
    with pytest.raises(Exception, match="frozen"):
        built.equity = Decimal(0)  # type: ignore[misc]
