"""One work item as a LangGraph graph: snippet -> instruction -> answer -> tests [-> repair -> tests] -> judge ->
route.

The steps (item_steps.py) are wired in order; a step before the judge that sets a status (failed, duplicate, or
rejected by a gate) ends the item.
"""

from __future__ import annotations

from collections.abc import Mapping

from langgraph.graph import END, START, StateGraph

from polyforge.agents import JudgeAgent, LanguageAgent, TesterAgent
from polyforge.generation.item_state import ItemState, WorkItem
from polyforge.generation.item_steps import ItemSettings, ItemSteps
from polyforge.prompts import Taxonomy
from polyforge.sandbox.pool import ExecutionPool

RECURSION_LIMIT_BASE = 25  # langgraph's default step limit, enough for one pass through the graph


def _continue_unless_ended(next_step: str):
    """Before the judge, a status means a step ended the item."""
    def decide(state: ItemState) -> str:
        return END if state.status is not None else next_step

    return decide


def _screen_unless_failed(state: ItemState) -> str:
    """After a repair: the fix is screened and run, unless the model failed to write one."""
    return "judge" if state.error is not None else "screen_answers"


def _discuss_if_peers(state: ItemState) -> str:
    if state.status is not None:
        return END
    return "discuss" if state.item.peers else "screen_instruction"


def build_item_graph(agents: Mapping[str, LanguageAgent], judge: JudgeAgent, settings: ItemSettings = ItemSettings(),
                     taxonomy: Taxonomy | None = None, tester: TesterAgent | None = None,
                     executor: ExecutionPool | None = None):
    """Compile the graph once per campaign; every work item runs through it concurrently.

    With `settings.candidates` > 1 the answer is sampled that many times, the judge scores each, and
    the best one becomes the pair's answer; the others remain in the state as DPO material (with
    `settings.until_pass`, written one per round, write-screen-execute, until one passes). When the
    agent has a memory bank, an instruction too similar to one it holds is dropped before any answer
    is written (status `duplicate`), and a novel one is remembered at once, so that two items in
    flight cannot both pass with the same task. An item with peers has its drafted instruction
    discussed first (see `discussion.py`); the novelty check sees the revision.
    """
    graph = StateGraph(ItemState)
    steps = ItemSteps(agents, judge, settings, taxonomy, tester, executor)
    for step in steps.steps():
        graph.add_node(step.name, step)
    graph.add_edge(START, "write_instruction")
    graph.add_conditional_edges("write_instruction", _discuss_if_peers, ["discuss", "screen_instruction", END])
    for step, following in (("discuss", "screen_instruction"), ("screen_instruction", "check_novelty"),
                            ("check_novelty", "classify"), ("classify", "write_answers"),
                            ("write_answers", "screen_answers"), ("screen_answers", "execute")):
        graph.add_conditional_edges(step, _continue_unless_ended(following), [following, END])
    graph.add_conditional_edges("execute", steps.answer_again_or_judge, ["repair", "write_answers", "judge"])
    graph.add_conditional_edges("repair", _screen_unless_failed, ["screen_answers", "judge"])
    graph.add_edge("judge", "remember")  # remember marks accepted pairs; it reads the status the judge set
    graph.add_edge("remember", END)
    # Each round until a pass, and each repair, takes three more steps than langgraph's default limit allows for.
    rounds = settings.candidates + settings.repair_turns
    return graph.compile().with_config(recursion_limit=RECURSION_LIMIT_BASE + 3 * rounds)


async def run_item(graph, item: WorkItem) -> ItemState:
    """The item's final state after the graph ran it."""
    return ItemState(**await graph.ainvoke(ItemState(item=item)))
