# Two commands matter on a fresh machine:  make run   and   make test
VENV    ?= .venv
PY      := $(VENV)/bin/python
MPIEXEC := $(VENV)/bin/mpiexec
STAMP   := $(VENV)/.installed
NP      ?= 2
CASE    ?= cases/quick.yaml
OUT     ?= runs/quick
PYTEST  := $(PY) -m pytest -q
# pytest workers for the serial pass (one per CI core); a test file stays on one worker,
# so module fixtures run once. JOBS=0 runs that pass in one process.
JOBS    ?= 2

.PHONY: setup run test test-serial test-mpi lint bench bench-hong hong2018-full hong-moose-grid bench-fracture m4-growth validate seed001 seed001-pf seed002 seed003-m6 seed003-wedge seed004 clean help

help:
	@echo "make run    set up (if needed) and run $(CASE) on $(NP) ranks into $(OUT)"
	@echo "make test   set up (if needed) and run the test suite, serial then mpiexec -n 2"
	@echo "make lint | bench | bench-hong | hong2018-full | hong-moose-grid | bench-fracture | m4-growth | validate | seed001 | seed001-pf | seed002 | seed003-m6 | seed003-wedge | seed004 | setup | clean"

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/setup.sh scripts/find-python
	bash scripts/setup.sh $(VENV)
	@touch $(STAMP)

run: $(STAMP)
	$(MPIEXEC) -n $(NP) $(VENV)/bin/solver run $(CASE) -o $(OUT)

# The default suite: every test in single-rank processes ($(JOBS) pytest workers), then
# every MPI-aware test on 2 ranks (rank 0 reports; tests marked `serial` spawn their own
# mpiexec and are skipped there).
test: $(STAMP)
	$(MAKE) --no-print-directory test-serial
	$(MAKE) --no-print-directory test-mpi

test-serial: $(STAMP)
	$(PYTEST) -m "not slow" -n $(JOBS) --dist loadfile

test-mpi: $(STAMP)
	timeout 1200 $(MPIEXEC) -n 2 bash tests/mpi_rank_output.sh $(PYTEST) -m "not slow and not serial"

lint: $(STAMP)
	$(VENV)/bin/ruff check solver tests benchmarks

bench: $(STAMP)
	$(PY) benchmarks/elasticity_bench.py
	$(PY) benchmarks/electrodeposition_bench.py
	$(PY) benchmarks/seed001_fig4b.py
	$(PY) benchmarks/fracture_bench.py
	$(PY) benchmarks/m4_growth_rate.py

# M4: perturbation growth rate against the coating modulus, analysis and FE
# -> runs/m4_growth_rate/{growth_rate.csv,growth_rate.png,table.md}
m4-growth: $(STAMP)
	$(PY) benchmarks/m4_growth_rate.py

# Seed 001 Fig. 4b: SEI thickness sweep, Li and Na -> runs/seed001/fig4b.{csv,png}
seed001: $(STAMP)
	$(PY) benchmarks/seed001_fig4b.py

# Seed 001 Fig. 4c-f: a 4 nm Li bump under riding (1ALD-1MLD)10/25/50 films (M4), design map
# over film thickness x modulus -> runs/seed001_pf/{surfaces.png,stress_AB.png,design_map.png,table.md}
seed001-pf: $(STAMP)
	NP=$(NP) $(PY) benchmarks/seed001_pf.py

# Seed 004: stiff SCS vs soft SEI over a Li nucleus (M4), design map over modulus x thickness
# -> runs/seed004/{relief.png,design_map.png,table.md}
seed004: $(STAMP)
	NP=$(NP) $(PY) benchmarks/seed004.py

# Seed 003 Fig. 6d-style: M6 on grains with and without conduction planes (~5 min on 2 ranks)
# -> runs/seed003_m6/{growth.png,table.md}
seed003-m6: $(STAMP)
	NP=$(NP) $(PY) benchmarks/seed003_m6.py

# Seed 003's wedge: crack and dendrite tips against time, feedback off/on, no-wedge control
# -> runs/seed003_wedge/{tips.png,table.md}
seed003-wedge: $(STAMP)
	NP=$(NP) $(PY) benchmarks/seed003_wedge.py

# Seed 002: Li3N vs LiZn/Li3N over a local Li deposit (PF-CZM) -> runs/seed002/{onset.png,table.md}
seed002: $(STAMP)
	NP=$(NP) $(PY) benchmarks/seed002.py

# Hong 2018 base case at full size (0.98 M dofs): settled cost per step on each rank count
# of RANKS and the estimate for Hong's 35 s -> runs/bench_hong/table.md (~6 min for "1 2")
RANKS ?= 1 2
bench-hong: $(STAMP)
	RANKS="$(RANKS)" $(PY) benchmarks/hong2018_bench.py

# Hong 2018 at full size on the front-following mesh, whole runs on $(NP) ranks (~1-2 h)
hong2018-full: $(STAMP)
	NP=$(NP) $(PY) benchmarks/hong2018_full.py

# Hong's base case on his MOOSE grid (1 um quads, one cell across the interface)
hong-moose-grid: $(STAMP)
	$(MPIEXEC) -n $(NP) $(PY) benchmarks/hong_moose_grid.py

# Phase-field fracture: SENT to failure, 1/2 ranks, plain vs accelerated, two meshes
bench-fracture: $(STAMP)
	$(PY) benchmarks/fracture_bench.py

# Long validation: every shipped case end to end on $(NP) ranks, then any test marked slow.
validate: $(STAMP)
	@set -e; for c in cases/*.yaml; do n=$$(basename $$c .yaml); \
	  echo "== $$c"; $(MPIEXEC) -n $(NP) $(VENV)/bin/solver run $$c -o runs/validate/$$n; done
	$(PYTEST) -m slow || [ $$? -eq 5 ]

clean:
	rm -rf runs .pytest_cache
