"""One work item as a LangGraph graph: snippet -> instruction -> answer -> judge -> route."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TypedDict

from langgraph.graph import END, START, StateGraph

from polyforge.agents import JudgeAgent, LanguageAgent, StageOutput, Verdict
from polyforge.agents.language_agent import Classification, EmptyOutput
from polyforge.llm import Completion, LLMError
from polyforge.prompts import Taxonomy

# Errors that end one work item and are recorded with it; anything else is a bug and propagates.
ITEM_ERRORS = (LLMError, EmptyOutput)


class WorkItem(TypedDict, total=False):
    snippet_id: int
    language: str
    path: str
    code: str
    seed: int
    target: tuple[str, str]  # (topic, difficulty) to steer the instruction toward, if steering


class WorkItemState(TypedDict, total=False):
    item: WorkItem
    instruction: StageOutput
    candidates: list[StageOutput]  # every answer sampled (rejection sampling)
    execution_statuses: list[str | None]  # the sandbox's status per candidate, once a sandbox stage runs them
    verdicts: list[Verdict]  # one per candidate, same order
    answer: StageOutput  # the chosen candidate
    verdict: Verdict  # its verdict
    status: str  # accepted / rejected / flagged (from the verdict), duplicate, or failed
    error: str
    novelty: float  # highest similarity of the instruction to the agent's memory
    classification: Classification  # the instruction's topic and difficulty
    memory_id: int  # the instruction's entry in the memory bank


CANDIDATE_SEED_STRIDE = 7919  # candidate i samples with seed + i * stride: distinct, reproducible


def _best(verdicts: list[Verdict]) -> int:
    """The candidate with the highest final score; unscored ones rank last, ties keep the earlier."""
    scores = [v.final_score if v.final_score is not None else float("-inf") for v in verdicts]
    return scores.index(max(scores))


def build_item_graph(agents: Mapping[str, LanguageAgent], judge: JudgeAgent, candidates: int = 1,
                     novelty_threshold: float = 0.9, taxonomy: Taxonomy | None = None):
    """Compile the graph once per campaign; every work item runs through it concurrently.

    With `candidates` > 1 the answer is sampled that many times, the judge scores each, and the
    best one becomes the pair's answer; the others remain in the state as DPO material. When the
    agent has a memory bank, an instruction too similar to one it holds is dropped before any
    answer is written (status `duplicate`), and a novel one is remembered at once, so that two
    items in flight cannot both pass with the same task.
    """

    async def write_instruction(state: WorkItemState) -> WorkItemState:
        item = state["item"]
        try:
            output = await agents[item["language"]].write_instruction(item["code"], item["path"], item["seed"],
                                                                      item.get("target"))
        except ITEM_ERRORS as exc:
            return {"status": "failed", "error": f"instruction: {exc}"}
        return {"instruction": output}

    def check_novelty(state: WorkItemState) -> WorkItemState:
        memory = agents[state["item"]["language"]].memory
        if memory is None:
            return {}
        instruction = state["instruction"].text
        similarity = memory.novelty(instruction)
        if similarity >= novelty_threshold:
            return {"status": "duplicate", "novelty": similarity,
                    "error": f"novelty: {similarity:.3f} similar to an instruction in memory "
                             f"(threshold {novelty_threshold})"}
        entry = memory.new_entry("generated", instruction)
        memory.add([entry])
        return {"novelty": similarity, "memory_id": entry.id}

    async def classify(state: WorkItemState) -> WorkItemState:
        if taxonomy is None:
            return {}
        item = state["item"]
        try:
            labels = await agents[item["language"]].classify(state["instruction"].text, taxonomy, item["seed"])
        except ITEM_ERRORS as exc:
            return {"status": "failed", "error": f"classify: {exc}"}
        return {"classification": labels}

    def remember(state: WorkItemState) -> WorkItemState:
        memory = agents[state["item"]["language"]].memory
        if memory is not None and "memory_id" in state and state.get("status") == "accepted":
            memory.mark(state["memory_id"], "accepted", state["answer"].text)
        return {}

    async def write_answers(state: WorkItemState) -> WorkItemState:
        item = state["item"]
        agent = agents[item["language"]]
        results = await asyncio.gather(
            *(agent.write_answer(state["instruction"].text, item["seed"] + i * CANDIDATE_SEED_STRIDE)
              for i in range(candidates)),
            return_exceptions=True,
        )
        unexpected = [r for r in results if isinstance(r, BaseException) and not isinstance(r, ITEM_ERRORS)]
        if unexpected:
            raise unexpected[0]
        written = [r for r in results if isinstance(r, StageOutput)]
        if not written:  # one good candidate is enough to go on
            return {"status": "failed", "error": f"answer: {results[0]}"}
        return {"candidates": written}

    async def judge_candidates(state: WorkItemState) -> WorkItemState:
        item = state["item"]
        try:
            executed = state.get("execution_statuses") or [None] * len(state["candidates"])
            verdicts = await asyncio.gather(
                *(judge.judge(item["language"], state["instruction"].text, candidate.text, item["seed"], status)
                  for candidate, status in zip(state["candidates"], executed))
            )
        except ITEM_ERRORS as exc:
            return {"status": "failed", "error": f"judge: {exc}"}
        best = _best(verdicts)
        return {"verdicts": verdicts, "answer": state["candidates"][best], "verdict": verdicts[best],
                "status": verdicts[best].route.value}

    def continue_unless_ended(next_node: str):
        def decide(state: WorkItemState) -> str:
            return END if state.get("status") in ("failed", "duplicate") else next_node

        return decide

    graph = StateGraph(WorkItemState)
    graph.add_node("write_instruction", write_instruction)
    graph.add_node("check_novelty", check_novelty)
    graph.add_node("classify", classify)
    graph.add_node("write_answers", write_answers)
    graph.add_node("judge", judge_candidates)
    graph.add_node("remember", remember)
    graph.add_edge(START, "write_instruction")
    graph.add_conditional_edges("write_instruction", continue_unless_ended("check_novelty"), ["check_novelty", END])
    graph.add_conditional_edges("check_novelty", continue_unless_ended("classify"), ["classify", END])
    graph.add_conditional_edges("classify", continue_unless_ended("write_answers"), ["write_answers", END])
    graph.add_conditional_edges("write_answers", continue_unless_ended("judge"), ["judge", END])
    graph.add_conditional_edges("judge", continue_unless_ended("remember"), ["remember", END])
    graph.add_edge("remember", END)
    return graph.compile()


def stage_completions(state: WorkItemState) -> dict[str, list[Completion]]:
    """Every completion a work item spent, by stage (retries included)."""
    instruction, classification = state.get("instruction"), state.get("classification")
    return {
        "instruction": instruction.completions if instruction else [],
        "classify": classification.completions if classification else [],
        "answer": [c for candidate in state.get("candidates", []) for c in candidate.completions],
        "judge": [c for verdict in state.get("verdicts", []) for c in verdict.completions],
    }


def preferences(state: WorkItemState) -> list[tuple[StageOutput, Verdict]]:
    """The candidates the chosen answer beat on final score: (rejected candidate, its verdict)."""
    chosen = state.get("verdict")
    if chosen is None or chosen.final_score is None:
        return []
    return [
        (candidate, verdict)
        for candidate, verdict in zip(state["candidates"], state["verdicts"])
        if verdict is not chosen and (verdict.final_score is None or verdict.final_score < chosen.final_score)
    ]


async def run_item(graph, item: WorkItem) -> WorkItemState:
    return await graph.ainvoke({"item": item})
