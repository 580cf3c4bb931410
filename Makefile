# The README's first two commands.
.PHONY: demo test setup system bench

setup:
	scripts/setup.sh

system:
	scripts/setup.sh --system

# 1. Set up and generate a clip from text with the bundled default model into out/.
demo: setup
	mkdir -p out
	.venv/bin/audiogan generate "footsteps on snow" --seed 7 -o out/footsteps_on_snow.wav --overwrite

# 2. Set up (Python and Debian packages) and run the test suite.
test: system
	.venv/bin/python -m pytest -q -ra --durations=10

bench: setup
	.venv/bin/python -m benchmarks.run
