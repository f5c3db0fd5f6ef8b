#!/usr/bin/env bash
# Idempotent set-up of a fresh machine: Debian packages, .venv, ROS 2 wheels,
# colcon build of ros_ws, and the environment hook. A second run with nothing
# changed takes seconds: every step is skipped when its inputs are unchanged.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
STAMPS="$ROOT/.venv/.neuro-stamps"
TORCH_VERSION="2.13.0"

say() { printf '\033[1;34m[setup]\033[0m %s\n' "$*"; }
die() { printf '\033[1;31m[setup] error:\033[0m %s\n' "$*" >&2; exit 1; }

# --- 1. Debian packages (installed only when missing) ----------------------
# libusb-1.0-0: open3d; libegl1 + libgl1-mesa-dri: headless MuJoCo (EGL, llvmpipe);
# libosmesa6: MuJoCo's OSMesa fallback; cmake/g++: colcon build of interfaces;
# strace: the test that proves DDS sends nothing beyond loopback.
DEB_PACKAGES=(libusb-1.0-0 libegl1 libgl1-mesa-dri libosmesa6 cmake g++ python3-venv strace)
missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for p in "${DEB_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
else
  say "not a Debian system: skipping Debian packages (${DEB_PACKAGES[*]}); install their equivalents yourself"
fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then SUDO=""
  elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"
  else die "missing Debian packages: ${missing[*]}. You are not root and sudo is absent: ask an administrator to run 'apt-get install ${missing[*]}'."
  fi
  say "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# --- 2. virtual environment -------------------------------------------------
mkdir -p "$(dirname "$STAMPS")"
if [ ! -x "$PY" ]; then
  say "creating .venv"
  python3 -m venv "$VENV"
  "$PY" -m pip install -q --upgrade pip setuptools wheel 2>&1 | grep -v "is ignored: it is neither" || true
fi
mkdir -p "$STAMPS"

# torch first, pinned: on this machine the CPU build comes from local disk; an
# unpinned torch would pull a CUDA build of several GB.
if ! "$PY" -W ignore -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$TORCH_VERSION')" 2>/dev/null; then
  say "installing torch==$TORCH_VERSION"
  "$PY" -m pip install -q "torch==$TORCH_VERSION" 2>&1 | grep -v "is ignored: it is neither" || true
  "$PY" -W ignore -c "import torch" 2>/dev/null || die "torch==$TORCH_VERSION did not install"
fi

hash_of() { cat "$@" 2>/dev/null | sha256sum | cut -d' ' -f1; }

deps_hash=$(hash_of pyproject.toml)
if [ "$(cat "$STAMPS/pip" 2>/dev/null)" != "$deps_hash" ]; then
  say "installing neuro_nodes and its dependencies (pip install -e .[dev])"
  log="$STAMPS/pip.log"
  "$PY" -m pip install -e ".[dev]" >"$log" 2>&1 || { tail -20 "$log" >&2; die "pip install -e .[dev] failed (log: $log)"; }
  "$PY" -c "import neuro_nodes, rclpy" || die "neuro_nodes or rclpy does not import after pip install (log: $log)"
  # a second torch would mean some dependency pulled a CUDA build
  n_torch=$("$PY" -m pip list 2>/dev/null | grep -cE '^(torch|torchvision|torchaudio) ' || true)
  [ "$n_torch" -le 1 ] || die "a dependency installed torchvision/torchaudio (CUDA torch); remove it"
  echo "$deps_hash" > "$STAMPS/pip"
  rm -f "$STAMPS/cmakefix"
fi

# --- 3. wheel CMake path fix -------------------------------------------------
# The ros-* wheels' exported *.cmake files hard-code the wheel builder's Python
# and numpy include paths; point them at this venv's.
wheel_count=$(ls "$VENV"/lib/python3.*/site-packages | grep -c '^ros_' || true)
if [ "$(cat "$STAMPS/cmakefix" 2>/dev/null)" != "$wheel_count" ]; then
  py_inc=$("$PY" -c "import sysconfig; print(sysconfig.get_paths()['include'])")
  np_inc=$("$PY" -c "import numpy; print(numpy.get_include())")
  grep -rlZ --include='*.cmake' '/opt/python/cp311-cp311' "$VENV" 2>/dev/null \
    | xargs -0 -r sed -i \
        -e "s#/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include#$np_inc#g" \
        -e "s#/opt/python/cp311-cp311/include/python3.11#$py_inc#g" || true
  echo "$wheel_count" > "$STAMPS/cmakefix"
  rm -f "$STAMPS/colcon"
fi

# --- 4. colcon build of ros_ws ----------------------------------------------
# inputs: the sources, and any ROS prefixes outside this checkout (a sourced system ROS
# decides which compat packages are built)
outside_prefixes=$(echo "${AMENT_PREFIX_PATH:-}" | tr ':' '\n' | grep -v "^$ROOT" || true)
src_hash=$( (find ros_ws/src launch config -type f -print0 | sort -z | xargs -0 sha256sum; echo "$outside_prefixes") | sha256sum | cut -d' ' -f1)
if [ "$(cat "$STAMPS/colcon" 2>/dev/null)" != "$src_hash" ] || [ ! -d ros_ws/install ]; then
  say "colcon build of ros_ws/src"
  (
    export PATH="$VENV/bin:$PATH"
    "$ROOT/ros_ws/build.sh" --quiet
  ) || die "colcon build failed: see ros_ws/log/latest_build"
  echo "$src_hash" > "$STAMPS/colcon"
fi

# --- 5. environment ----------------------------------------------------------
"$PY" -m neuro_nodes.workspace --write
say "ready: .venv/bin/neuro (or 'source env.sh' for a shell with everything on PATH)"
