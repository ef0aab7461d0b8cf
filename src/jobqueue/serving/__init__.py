"""How the API is served: uvicorn's HTTP protocol with the guards against slow and flooding
clients that uvicorn lacks (installed by `python -m jobqueue serve`)."""
