"""The item runner: one work item in, one result out (with the items its discussion transferred).

It holds nothing of the campaign but the compiled graph, so it runs the same in the campaign's
own process or on a remote worker.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass, field
from typing import Protocol

from polyforge.generation.item_graph import run_item
from polyforge.generation.item_state import TRANSFER_MODE, ItemState, WorkItem

TRANSFER_SEED_STRIDE = 1_000_003


@dataclass
class ItemResult:
    """A finished work item: its state, and the state of each transfer its discussion produced."""

    state: ItemState
    transfers: list[ItemState] = field(default_factory=list)

    @property
    def states(self) -> list[ItemState]:
        return [self.state, *self.transfers]


def transfer_items(state: ItemState) -> list[WorkItem]:
    """The work items a discussion's transfers become: the same snippet, a peer's language, the task given."""
    item = state.item
    return [
        dataclasses.replace(item, language=language, seed=item.seed + (index + 1) * TRANSFER_SEED_STRIDE,
                            mode=TRANSFER_MODE, instruction=task, peers=(), target=None)
        for index, (language, task) in enumerate(state.transfers.items())
    ]


class RunsItems(Protocol):
    """What runs work items for a campaign: an `ItemRunner` here, or the workers of a Ray cluster."""

    async def run(self, item: WorkItem) -> ItemResult: ...


class ItemRunner:
    """Runs work items through a compiled item graph (see `item_graph.build_item_graph`)."""

    def __init__(self, graph):
        self.graph = graph

    async def run(self, item: WorkItem) -> ItemResult:
        state = await run_item(self.graph, item)
        transfers = await asyncio.gather(*(run_item(self.graph, child) for child in transfer_items(state)))
        return ItemResult(state, list(transfers))
