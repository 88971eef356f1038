#!/usr/bin/env bash
# Make a self-contained Cloud Functions source directory: everything in the function's folder (entry
# point main.py, requirements.txt, .gcloudignore) plus a copy of the gasforecast core package.
#
# Cloud Functions uploads only the --source directory, so the core must be copied in; importing it
# from the repository root would work locally and fail on Google Cloud.
#
# Usage: scripts/assemble_function.sh FUNCTION_DIR OUTPUT_DIR
#   e.g. scripts/assemble_function.sh functions/ingest build/functions/ingest
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 FUNCTION_DIR OUTPUT_DIR" >&2
  exit 2
fi

function_dir=${1%/}
output_dir=${2%/}
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
core_dir="$repo_root/gasforecast"

for required in "$function_dir/main.py" "$function_dir/requirements.txt" "$core_dir/__init__.py"; do
  if [[ ! -f $required ]]; then
    echo "$0: missing $required" >&2
    exit 1
  fi
done

# Refuse outputs that would wipe sources (the rm below empties the output directory).
case "$(realpath -m "$output_dir")" in
  / | "$repo_root" | "$(realpath -m "$function_dir")" | "$core_dir")
    echo "$0: refusing to replace $output_dir" >&2
    exit 2
    ;;
esac

# Start from an empty directory so files deleted from the repository do not linger in a deploy.
rm -rf "$output_dir"
mkdir -p "$output_dir"
# Without bytecode caches: the platform compiles on its own Python.
copy_tree() { tar -C "$1" --exclude='__pycache__' --exclude='*.pyc' -cf - "$2" | tar -C "$output_dir" -xf -; }
copy_tree "$function_dir" .
copy_tree "$repo_root" gasforecast

echo "assembled $function_dir -> $output_dir"
