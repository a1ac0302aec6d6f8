"""Repair from the sandbox's output: which failed candidate of an item is fixed next, and the fix as one more
candidate (screened and run with the same tests after it)."""

from __future__ import annotations

from polyforge.agents import ITEM_ERRORS, LanguageAgent
from polyforge.agents.judge import sandbox_feedback
from polyforge.generation.item_state import ItemState, Repair
from polyforge.sandbox import Status

# The runs whose output can tell a model what to fix (a memory limit's output rarely says where).
REPAIRABLE = frozenset({Status.FAILED, Status.COMPILE_ERROR, Status.RUNTIME_ERROR, Status.TIMEOUT})
REPAIR_SEED_OFFSET = 104729  # repair i samples with the item's seed + offset + i: apart from the candidates' seeds


def candidate_to_repair(state: ItemState, repair_turns: int) -> int | None:
    """While no candidate passed and repair turns are left, the latest run candidate if its run failed in a way
    its output can explain (`REPAIRABLE`); else None."""
    if len(state.repairs) >= repair_turns or any(e is not None and e.status is Status.PASSED
                                                 for e in state.executions):
        return None
    for index in reversed(range(len(state.executions))):
        execution = state.executions[index]
        if execution is not None and index not in state.screened_out:
            return index if execution.status in REPAIRABLE else None
    return None


async def fix_candidate(agent: LanguageAgent, state: ItemState, broken: int) -> dict:
    """The state update: candidate `broken` fixed by `agent` from the sandbox's output on it, as a new candidate.
    A model error ends the repairs (the item's `error`), not the item."""
    feedback = sandbox_feedback(state.executions[broken])
    seed = state.item.seed + REPAIR_SEED_OFFSET + len(state.repairs)
    try:
        fix = await agent.repair_answer(state.instruction.text, state.candidates[broken].text, feedback, seed)
    except ITEM_ERRORS as exc:
        return {"error": f"repair: {exc}"}
    return {"candidates": [*state.candidates, fix],
            "repairs": {**state.repairs, len(state.candidates): Repair(broken, feedback)}}
