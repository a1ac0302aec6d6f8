"""Cross-lingual discussion, a LangGraph subgraph of the work item.

The proposer (the agent of the item's language) has drafted a task. Peer agents of other languages
critique it and the proposer revises it, for the configured number of rounds. Then, when transfer is
on, each peer carries the agreed task over into its own language; those tasks go on to become pairs
of the peers' languages. Every turn is kept, in order: the transcript stored with the pair.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable, Mapping
from dataclasses import dataclass
from typing import TypedDict

from langgraph.graph import END, START, StateGraph

from polyforge.agents import ITEM_ERRORS, LanguageAgent, StageOutput

TURN_SEED_STRIDE = 104_729  # turn (round r, peer p) samples with seed + (r * 100 + p + 1) * stride


@dataclass
class Turn:
    round: int  # 0: the draft; 1..rounds: critiques and the revision; transfers carry the last round
    language: str  # who spoke
    role: str  # draft, critique, revision or transfer
    output: StageOutput


class DiscussionState(TypedDict, total=False):
    proposer: str
    peers: list[str]
    seed: int
    round: int  # rounds completed
    instruction: StageOutput  # the proposer's task as it stands
    turns: list[Turn]
    transfers: dict[str, StageOutput]  # peer language -> the task in that language
    error: str  # what failed; the discussion ends there


def turn_seed(seed: int, round_: int, speaker: int) -> int:
    return seed + (round_ * 100 + speaker + 1) * TURN_SEED_STRIDE


async def _all(calls: Iterable[Awaitable[StageOutput]]) -> list[StageOutput]:
    """Every call's output; the first exception is raised once all calls have finished."""
    results = await asyncio.gather(*calls, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return list(results)


def build_discussion_graph(agents: Mapping[str, LanguageAgent], rounds: int = 1, transfer: bool = True):
    """Compile the discussion once per campaign; the item graph runs it for items that have peers."""

    async def critique(state: DiscussionState) -> DiscussionState:
        round_, proposer, peers = state["round"] + 1, state["proposer"], state["peers"]
        try:
            replies = await _all(
                agents[peer].critique(state["instruction"].text, proposer, turn_seed(state["seed"], round_, index))
                for index, peer in enumerate(peers)
            )
        except ITEM_ERRORS as exc:
            return {"error": f"critique: {exc}"}
        return {"turns": state["turns"] + [Turn(round_, peer, "critique", reply) for peer, reply in zip(peers, replies)]}

    async def revise(state: DiscussionState) -> DiscussionState:
        round_, proposer = state["round"] + 1, state["proposer"]
        critiques = [(turn.language, turn.output.text) for turn in state["turns"]
                     if turn.round == round_ and turn.role == "critique"]
        try:
            revised = await agents[proposer].revise(state["instruction"].text, critiques,
                                                    turn_seed(state["seed"], round_, len(state["peers"])))
        except ITEM_ERRORS as exc:
            return {"error": f"revise: {exc}"}
        return {"instruction": revised, "round": round_,
                "turns": state["turns"] + [Turn(round_, proposer, "revision", revised)]}

    async def carry_over(state: DiscussionState) -> DiscussionState:
        round_, proposer, peers = state["round"], state["proposer"], state["peers"]
        try:
            tasks = await _all(
                agents[peer].transfer(state["instruction"].text, proposer, turn_seed(state["seed"], round_ + 1, index))
                for index, peer in enumerate(peers)
            )
        except ITEM_ERRORS as exc:
            return {"error": f"transfer: {exc}"}
        return {"transfers": dict(zip(peers, tasks)),
                "turns": state["turns"] + [Turn(round_, peer, "transfer", task) for peer, task in zip(peers, tasks)]}

    def after_critique(state: DiscussionState) -> str:
        return END if "error" in state else "revise"

    def after_revision(state: DiscussionState) -> str:
        if "error" in state:
            return END
        if state["round"] < rounds:
            return "critique"
        return "carry_over" if transfer else END

    graph = StateGraph(DiscussionState)
    graph.add_node("critique", critique)
    graph.add_node("revise", revise)
    graph.add_node("carry_over", carry_over)
    graph.add_edge(START, "critique")
    graph.add_conditional_edges("critique", after_critique, ["revise", END])
    graph.add_conditional_edges("revise", after_revision, ["critique", "carry_over", END])
    graph.add_edge("carry_over", END)
    return graph.compile()


async def discuss(discussion, proposer: str, peers: list[str], draft: StageOutput, seed: int) -> DiscussionState:
    """Run a compiled discussion on a drafted task; the draft is the transcript's first turn."""
    return await discussion.ainvoke({"proposer": proposer, "peers": peers, "seed": seed, "round": 0,
                                     "instruction": draft, "turns": [Turn(0, proposer, "draft", draft)]})
