"""A large, messy, many-language repository built for the ingest tests.

It holds code in about 30 languages (generated variations, so there is plenty of it), every
ambiguous extension of the hand-labelled identification cases, and the trouble a real repository
brings: exact and near duplicates, a HumanEval solution, generated, minified, vendored, ignored,
binary, non-UTF-8, empty and oversized files, a symlink loop and a LICENSE file.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

LABELLED = Path(__file__).parent / "data" / "identify"

MIT = """MIT License

Copyright (c) 2026 Example

Permission is hereby granted, free of charge, to any person obtaining a copy of this software and
associated documentation files (the "Software"), to deal in the Software without restriction.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND.
"""

# One template per language: {i} makes each copy different; {op} and {k} vary the body.
TEMPLATES = {
    "py/mod{i}.py": '''def transform_{i}(values, factor={k}):
    """Scale every value by the factor and drop the ones below {i}."""
    result = []
    for value in values:
        scaled = value {op} factor
        if scaled >= {i}:
            result.append(scaled)
    return result


class Counter{i}:
    """Counts events by name."""

    def __init__(self):
        self.counts = {{}}

    def add(self, name, amount={k}):
        self.counts[name] = self.counts.get(name, 0) + amount
        return self.counts[name]
''',
    "js/util{i}.js": '''// Sum the entries of a table whose key starts with a prefix.
function sumByPrefix{i}(table, prefix) {{
  let total = {k};
  for (const [key, value] of Object.entries(table)) {{
    if (key.startsWith(prefix)) total = total {op} value;
  }}
  return total;
}}

module.exports = {{ sumByPrefix{i} }};
''',
    "ts/svc{i}.ts": '''export interface Item{i} {{ id: number; label: string; }}

export function pick{i}(items: Item{i}[], limit: number = {k}): Item{i}[] {{
  const out: Item{i}[] = [];
  for (const item of items) {{
    if (item.id {op} {i} > limit) out.push(item);
  }}
  return out;
}}
''',
    "c/calc{i}.c": '''#include <stdio.h>

/* Accumulate the first n terms of a sequence. */
long accumulate_{i}(const long *terms, int n)
{{
    long total = {k};
    for (int j = 0; j < n; j++) {{
        total = total {op} terms[j];
    }}
    return total;
}}
''',
    "cpp/shape{i}.hpp": '''#include <vector>

class Shape{i} {{
public:
    explicit Shape{i}(double size) : size_(size) {{}}
    double scaled(double factor) const {{
        return size_ {op} factor + {k};
    }}
private:
    double size_;
}};
''',
    "go/pkg{i}.go": '''package pkg

// Clamp{i} keeps v within [lo, hi] after an offset of {k}.
func Clamp{i}(v, lo, hi int) int {{
	v = v {op} {k}
	if v < lo {{
		return lo
	}}
	if v > hi {{
		return hi
	}}
	return v
}}
''',
    "rust/m{i}.rs": '''/// Mean of the values above a floor of {k}.
pub fn mean_above_{i}(values: &[f64]) -> Option<f64> {{
    let kept: Vec<f64> = values.iter().cloned().filter(|v| *v {op} 1.0 > {k}.0).collect();
    if kept.is_empty() {{
        return None;
    }}
    Some(kept.iter().sum::<f64>() / kept.len() as f64)
}}
''',
    "java/Acc{i}.java": '''public class Acc{i} {{
    private long total = {k};

    /** Adds a value and returns the running total. */
    public long add(long value) {{
        total = total {op} value;
        return total;
    }}
}}
''',
    "rb/acc{i}.rb": '''# Running totals by key.
class Tally{i}
  def initialize
    @totals = Hash.new({k})
  end

  def add(key, amount)
    @totals[key] = @totals[key] {op} amount
  end
end
''',
    "lua/m{i}.lua": '''-- Fold a list with an operator, starting at {k}.
function fold_{i}(list)
  local acc = {k}
  for _, v in ipairs(list) do
    acc = acc {op} v
  end
  return acc
end
''',
    "sh/tool{i}.sh": '''#!/bin/sh
# Print the lines of a file longer than {k} characters.
long_lines_{i}() {{
  while IFS= read -r line; do
    if [ "${{#line}}" -gt {k} ]; then
      echo "$line"
    fi
  done < "$1"
}}
''',
    "hs/M{i}.hs": '''module M{i} where

-- | Sum of squares above a threshold of {k}.
sumSquares{i} :: [Int] -> Int
sumSquares{i} xs = sum [x * x | x <- xs, x {op} 1 > {k}]
''',
    "php/lib{i}.php": '''<?php
// Filter records by a minimum score of {k}.
function filter_records_{i}(array $records): array {{
    $kept = [];
    foreach ($records as $r) {{
        if ($r['score'] {op} 1 >= {k}) {{
            $kept[] = $r;
        }}
    }}
    return $kept;
}}
''',
    "awk/report{i}.awk": '''# Sum the third column of lines matching a key ({k}).
$1 == "key{i}" {{
    total += $3 {op} {k}
    count++
}}

END {{
    print "total", total, "count", count
}}
''',
}
OPS = ["+", "-", "*"]


def build_fixture_repo(root: Path, copies: int = 20, with_huge_file: bool = True) -> Path:
    """Write the fixture repository under `root` and commit it with git; returns its folder."""
    repo = root / "messy_repo"
    repo.mkdir(parents=True)
    for pattern, template in TEMPLATES.items():
        for i in range(copies):
            path = repo / pattern.format(i=i)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(template.format(i=i, k=(i * 7) % 13 + 2, op=OPS[i % 3]))
    ambiguous = repo / "ambiguous"
    shutil.copytree(LABELLED, ambiguous, ignore=shutil.ignore_patterns("labels.yaml"))
    # duplicates: an exact copy (re-indented) and a near copy (one changed word)
    (repo / "py" / "copy_of_mod1.py").write_text((repo / "py" / "mod1.py").read_text().replace("    ", "  "))
    near = (repo / "py" / "mod2.py").read_text().replace("drop the ones below", "discard those below")
    (repo / "py" / "near_mod2.py").write_text(near)
    # benchmark contamination: a HumanEval solution pasted into the repository
    (repo / "py" / "has_close.py").write_text('''from typing import List


def has_close_elements(numbers: List[float], threshold: float) -> bool:
    """ Check if in given list of numbers, are any two numbers closer to each other than
    given threshold.
    """
    for idx, elem in enumerate(numbers):
        for idx2, elem2 in enumerate(numbers):
            if idx != idx2:
                distance = abs(elem - elem2)
                if distance < threshold:
                    return True

    return False
''')
    # files to skip
    (repo / "js" / "bundle.js").write_text("var a=" + ",".join(f"b{i}=function(){{return {i}}}" for i in range(400)) + ";\n")
    (repo / "py" / "schema_pb2.py").write_text("# Generated by the protocol buffer compiler.  DO NOT EDIT!\n# source: schema.proto\nx = 1\n")
    (repo / "vendor" / "lib").mkdir(parents=True)
    (repo / "vendor" / "lib" / "dep.py").write_text("def vendored():\n    return 1\n")
    (repo / "build_out").mkdir()
    (repo / "build_out" / "gen.py").write_text("def ignored_by_gitignore():\n    return 2\n")
    (repo / "debug.log").write_text("log line\n")
    (repo / ".gitignore").write_text("build_out/\n*.log\n")
    (repo / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    (repo / "c" / "latin1.c").write_bytes("/* caf\xe9 au lait */\nint cafe(void) { return 1; }\n".encode("latin-1"))
    (repo / "empty.py").write_text("")
    (repo / "README.md").write_text("# Messy repo\n\nFor tests.\n")
    (repo / "LICENSE").write_text(MIT)
    (repo / "loop").mkdir()
    os.symlink("..", repo / "loop" / "back")  # a symlink loop
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", "-c", "init.defaultBranch=main"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    subprocess.run([*git, "add", "-A"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "fixture"], cwd=repo, check=True)
    if with_huge_file:  # 50 MB, sparse on disk; left out of the commit to keep git fast
        with open(repo / "huge.py", "wb") as huge:
            huge.truncate(50 * 1024 * 1024)
    return repo
