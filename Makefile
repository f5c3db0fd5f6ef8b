# The two commands of the README. Both run the same idempotent set-up first.
.PHONY: setup demo test lint docs clean

setup:
	@bash scripts/setup.sh

demo: setup
	@.venv/bin/neuro demo

test: setup
	@.venv/bin/python -m pytest -q

lint: setup
	@.venv/bin/ruff check .

docs: setup
	@.venv/bin/python -m neuro_nodes.ros.docs_gen --write docs/nodes.md

clean:
	rm -rf ros_ws/build ros_ws/install ros_ws/log env.sh
