"""End-to-end tests: real ``cronpy run`` processes, real jobs, real signals."""
