"""Chaos tools for the soak (``bench/soak.py``) and the browser tests: a TCP proxy
that loses requests and answers on purpose, a client model of a browser with
tabs, and the processes (Redis, daphne workers) the soak restarts."""
