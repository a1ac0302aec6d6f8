#!/usr/bin/env bash
# File helpers for deployment scripts.

# Print the size in bytes of each file given, one per line.
file_sizes() {
  for f in "$@"; do
    printf '%s %s\n' "$(wc -c < "$f")" "$f"
  done
}

# Make a timestamped backup copy of a file next to it.
backup_file() {
  local src="$1"
  local stamp
  stamp=$(date +%Y%m%d%H%M%S)
  cp -p "$src" "$src.$stamp.bak"
  echo "$src.$stamp.bak"
}

# Count the non-empty lines of a file.
count_lines() {
  grep -c -v '^[[:space:]]*$' "$1"
}
