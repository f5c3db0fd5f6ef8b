#!/usr/bin/env bash
# colcon build of ros_ws/src. The wire-compatible copies in src/compat
# (event_camera_msgs, tf2_msgs) are skipped when the environment already provides
# those packages, so that on a robot with a full ROS 2 install the system ones win.
# Usage: ./build.sh [--quiet] [extra colcon build args...]
set -euo pipefail
WS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$WS"
quiet=0
if [ "${1:-}" = "--quiet" ]; then quiet=1; shift; fi

# A pip-only machine: the venv is the ROS prefix (the ros-* wheels install an ament index there).
if [ -n "${VIRTUAL_ENV:-}" ] || [ -x "$WS/../.venv/bin/python" ]; then
  venv="${VIRTUAL_ENV:-$(cd "$WS/../.venv" && pwd)}"
  if [ -d "$venv/share/ament_index" ]; then
    export AMENT_PREFIX_PATH="$venv${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
    export CMAKE_PREFIX_PATH="$venv${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
    export PATH="$venv/bin:$PATH"
  fi
fi

provided() {  # is package $1 in a prefix of AMENT_PREFIX_PATH other than this workspace?
  local IFS=:
  for prefix in ${AMENT_PREFIX_PATH:-}; do
    case "$prefix" in "$WS"/install*) continue;; esac
    [ -e "$prefix/share/ament_index/resource_index/packages/$1" ] && return 0
  done
  return 1
}
skip=()
for pkg in event_camera_msgs tf2_msgs; do
  if provided "$pkg"; then skip+=("$pkg"); fi
done
[ ${#skip[@]} -eq 0 ] || echo "[ros_ws] environment provides ${skip[*]}: not building the compat copies"

args=(build --merge-install --cmake-args -DBUILD_TESTING=OFF -Wno-dev)
[ ${#skip[@]} -eq 0 ] || args+=(--packages-skip "${skip[@]}")
if [ $quiet -eq 1 ]; then
  log="$WS/log/build_quiet.log"; mkdir -p "$WS/log"
  colcon --log-level error "${args[@]}" "$@" >"$log" 2>&1 || { tail -30 "$log" >&2; exit 1; }
else
  colcon "${args[@]}" "$@"
fi
