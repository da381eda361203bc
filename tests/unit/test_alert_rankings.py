"""Alert e-mails: a ranking's figures stay in one column when a name (e.g. `name (id)` for two keys sharing a name) is
longer than the usual name column."""

from decimal import Decimal

from usage_lake.alerts.messages import NAME_LIMIT, _ranking_lines
from usage_lake.money import usd


def test_ranking_figures_line_up_whatever_the_names():
    ranking = [("prod-backend", Decimal("28.89")), ("batch-worker (apikey_01SJw9pkjWaDeXJiS3ZuELc6)", Decimal("9.31")),
               ("x" * 500, Decimal("1234.5")), ("Console / Workbench (no API key)", Decimal("5.79"))]
    lines = _ranking_lines(ranking, usd, 12)
    assert [line.rstrip().rsplit(" ", 1)[-1] for line in lines] == ["$28.89", "$9.31", "$1,234.50", "$5.79"]
    assert len({len(line) for line in lines}) == 1  # every figure ends in the same column
    assert max(len(line) for line in lines) == 2 + NAME_LIMIT + 1 + 12  # the 500-character name is cut at NAME_LIMIT
