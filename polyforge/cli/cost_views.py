"""What the commands print about money: a campaign's cost so far, and the projection of `run --estimate`."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from rich.table import Table

if TYPE_CHECKING:  # the estimate's module brings the whole campaign runner: only `run --estimate` loads it
    from polyforge.generation.costs import CampaignCost
    from polyforge.generation.estimate import Projection, Range


def money(value: float | None) -> str:
    """An amount in the prices' currency: cents above 1, two significant digits below."""
    if value is None:
        return "-"
    if math.isinf(value):
        return "unbounded"
    return f"{value:,.2f}" if value >= 1 or value == 0 else f"{value:.2g}"


def cost_line(cost: CampaignCost) -> str:
    servers = f", servers {money(cost.server)} for {cost.server_seconds / 3600:.2f} h" if cost.server else ""
    per = money(cost.per_accepted) if cost.accepted else "- (none accepted yet)"
    return (f"cost so far: {money(cost.total)} (tokens {money(cost.tokens)}{servers}); per accepted pair {per} "
            f"({cost.accepted} accepted of {cost.pairs} pairs)")


def _range(value: Range, shown=lambda v: f"{v:,.0f}") -> tuple[str, str]:
    point = "-" if value.value is None else shown(value.value)
    return point, f"{shown(value.low)} - {shown(value.high)}"


def estimate_table(projection: Projection) -> Table:
    """The sample's figures beside the whole campaign's projection and its 95% interval."""
    sample = projection.sample
    pairs, accepted = len(sample), projection.sample_accepted
    table = Table(title=f"estimate: a sample of {projection.sample_items} work items ({pairs} pairs) projected to "
                        f"{projection.pairs:,} pairs (bounded by {projection.limited_by})")
    for column in ("figure", "sample", "whole campaign", "95% interval"):
        table.add_column(column, justify="left" if column == "figure" else "right", no_wrap=True)
    table.add_row("tokens", f"{sum(p.tokens for p in sample):,}", *_range(projection.tokens))
    table.add_row("server hours", f"{projection.sample_seconds / 3600:.3f}",
                  *_range(projection.server_hours, lambda v: f"{v:,.2f}"))
    table.add_row("accepted pairs", f"{accepted} ({accepted / pairs:.0%})", *_range(projection.accepted))
    if projection.cost is not None:
        sample_cost = projection.sample_cost
        table.add_row("cost", money(sample_cost), *_range(projection.cost, money))
        per = projection.per_accepted
        table.add_row("cost per accepted pair", money(sample_cost / accepted) if accepted else "-",
                      *(_range(per, money) if per.value is not None else ("-", f"at least {money(per.low)}")))
    return table
