"""One work item as a LangGraph graph: snippet -> instruction -> answer -> judge -> route."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypedDict

from langgraph.graph import END, START, StateGraph

from polyforge.agents import JudgeAgent, LanguageAgent, StageOutput, Verdict
from polyforge.agents.language_agent import EmptyOutput
from polyforge.llm import Completion, LLMError

# Errors that end one work item and are recorded with it; anything else is a bug and propagates.
ITEM_ERRORS = (LLMError, EmptyOutput)


class WorkItem(TypedDict):
    snippet_id: int
    language: str
    path: str
    code: str
    seed: int


class WorkItemState(TypedDict, total=False):
    item: WorkItem
    instruction: StageOutput
    answer: StageOutput
    execution_status: str  # the sandbox's status for the answer, once a sandbox stage runs it
    verdict: Verdict
    status: str  # accepted / rejected / flagged (from the verdict) or failed
    error: str


def build_item_graph(agents: Mapping[str, LanguageAgent], judge: JudgeAgent):
    """Compile the graph once per campaign; every work item runs through it concurrently."""

    async def write_instruction(state: WorkItemState) -> WorkItemState:
        item = state["item"]
        try:
            output = await agents[item["language"]].write_instruction(item["code"], item["path"], item["seed"])
        except ITEM_ERRORS as exc:
            return {"status": "failed", "error": f"instruction: {exc}"}
        return {"instruction": output}

    async def write_answer(state: WorkItemState) -> WorkItemState:
        item = state["item"]
        try:
            output = await agents[item["language"]].write_answer(state["instruction"].text, item["seed"])
        except ITEM_ERRORS as exc:
            return {"status": "failed", "error": f"answer: {exc}"}
        return {"answer": output}

    async def judge_pair(state: WorkItemState) -> WorkItemState:
        item = state["item"]
        try:
            verdict = await judge.judge(item["language"], state["instruction"].text, state["answer"].text, item["seed"],
                                        state.get("execution_status"))
        except ITEM_ERRORS as exc:
            return {"status": "failed", "error": f"judge: {exc}"}
        return {"verdict": verdict, "status": verdict.route.value}

    def continue_unless_failed(next_node: str):
        def decide(state: WorkItemState) -> str:
            return END if state.get("status") == "failed" else next_node

        return decide

    graph = StateGraph(WorkItemState)
    graph.add_node("write_instruction", write_instruction)
    graph.add_node("write_answer", write_answer)
    graph.add_node("judge", judge_pair)
    graph.add_edge(START, "write_instruction")
    graph.add_conditional_edges("write_instruction", continue_unless_failed("write_answer"), ["write_answer", END])
    graph.add_conditional_edges("write_answer", continue_unless_failed("judge"), ["judge", END])
    graph.add_edge("judge", END)
    return graph.compile()


def stage_completions(state: WorkItemState) -> dict[str, list[Completion]]:
    """Every completion a work item spent, by stage (retries included)."""
    instruction, answer, verdict = state.get("instruction"), state.get("answer"), state.get("verdict")
    return {
        "instruction": instruction.completions if instruction else [],
        "answer": answer.completions if answer else [],
        "judge": verdict.completions if verdict else [],
    }


async def run_item(graph, item: WorkItem) -> WorkItemState:
    return await graph.ainvoke({"item": item})
