"""AST-level fill-in-the-middle: the middle is exactly one tree-sitter node of the chosen level, the three parts
give back the code, PSM and SPM layouts, and FIM samples mixed into SFT at the configured share."""

import pytest

from polyforge.config import FimConfig
from polyforge.export.fim import FIM_MIDDLE, FIM_PREFIX, FIM_SUFFIX, fim_cut, fim_text
from polyforge.export.fim_ast import FIM_LEVELS, _parser, ast_fim_cut, grammar_of, node_level

CODE = {
    "Python": "def clamp(x, low, high):\n    if x < low:\n        x = low + 0\n    elif x > high:\n"
              "        return high\n    return max(x, low) * 1\n",
    "Go": "func clamp(x, low, high int) int {\n\tif x < low {\n\t\tx = low + 0\n\t}\n\tif x > high {\n"
          "\t\treturn high\n\t}\n\treturn x * 1\n}\n",
    "Rust": "fn clamp(x: i32, low: i32, high: i32) -> i32 {\n    let mut y = x;\n    if y < low {\n"
            "        y = low + 0;\n    }\n    y.min(high) * 1\n}\n",
    "JavaScript": "function clamp(x, low, high) {\n  if (x < low) {\n    x = low + 0;\n  }\n"
                  "  return Math.min(x, high) * 1;\n}\n",
    "C": "int clamp(int x, int low, int high) {\n    if (x < low) {\n        x = low + 0;\n    }\n"
         "    return x > high ? high : x * 1;\n}\n",
    "Java": "class M {\n    static int clamp(int x, int low, int high) {\n        if (x < low) {\n"
            "            x = low + 0;\n        }\n        return Math.min(x, high) * 1;\n    }\n}\n",
}


def node_spanning(code: str, language: str, start: int, end: int):
    """The nodes of `code`'s tree that span exactly bytes start..end."""
    tree = _parser(grammar_of(language)).parse(code.encode())
    found, stack = [], [tree.root_node]
    while stack:
        node = stack.pop()
        if (node.start_byte, node.end_byte) == (start, end):
            found.append(node)
        stack.extend(node.children)
    return found


@pytest.mark.parametrize("language", sorted(CODE))
@pytest.mark.parametrize("level", FIM_LEVELS)
def test_the_middle_is_one_node_of_the_chosen_level(language, level):
    code = CODE[language]
    cuts = {ast_fim_cut(code, language, seed, [level]) for seed in range(40)}
    assert None not in cuts and len(cuts) >= (2 if level in ("expression", "statement") else 1)
    for cut in cuts:
        assert cut.prefix + cut.middle + cut.suffix == code and cut.level == level and cut.middle.strip()
        start = len(cut.prefix.encode())
        nodes = node_spanning(code, language, start, start + len(cut.middle.encode()))
        assert level in {node_level(node) for node in nodes}, (cut, [node.type for node in nodes])


def test_cuts_are_seeded_and_cover_every_level():
    code = CODE["Python"]
    assert ast_fim_cut(code, "Python", 3) == ast_fim_cut(code, "Python", 3)
    assert {ast_fim_cut(code, "Python", seed).level for seed in range(60)} == set(FIM_LEVELS)
    assert ast_fim_cut("def broken(:\n", "Python", 0) is None  # does not parse
    assert ast_fim_cut("x y z\n", "Prolog", 0) is None  # no grammar
    assert fim_cut(code, "Python", 1, mode="line").level == "line"  # the line mode stays


def test_psm_and_spm_layouts():
    cut = ast_fim_cut(CODE["Go"], "Go", 5)
    assert fim_text(cut) == f"{FIM_PREFIX}{cut.prefix}{FIM_SUFFIX}{cut.suffix}{FIM_MIDDLE}"
    assert fim_text(cut, "spm") == f"{FIM_SUFFIX}{cut.suffix}{FIM_PREFIX}{cut.prefix}{FIM_MIDDLE}"


def test_fim_rows_are_mixed_into_sft_at_the_configured_share(tiny_model):
    from transformers import AutoTokenizer

    from polyforge.training.sft_data import data_counts, sft_rows

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    examples = [{"messages": [{"role": "user", "content": f"Clamp {i}."},
                              {"role": "assistant", "content": f"```\n{CODE[language]}```"}], "language": language}
                for i, language in enumerate(sorted(CODE) * 2)]
    rows = sft_rows(examples, tokenizer, FimConfig(share=0.25, spm_rate=0.5), seed=1)
    kinds = data_counts(examples, rows)["rows_by_kind"]
    assert kinds["chat"] == 12 and sum(count for kind, count in kinds.items() if kind.startswith("fim-")) == 4
    fim = [row for row in rows if row["kind"] != "chat"]
    assert all(row["prompt"].endswith(FIM_MIDDLE) and row["completion"].strip() for row in fim)
    assert {row["prompt"][:len(FIM_PREFIX)] for row in fim} <= {FIM_PREFIX, FIM_SUFFIX[:len(FIM_PREFIX)]}
    assert sft_rows(examples, tokenizer, FimConfig(share=0.25), seed=1) == rows  # reproducible
    line_rows = sft_rows(examples, tokenizer, FimConfig(share=0.5, mode="line"), seed=1)
    assert {row["kind"] for row in line_rows} == {"chat", "fim-line"}
