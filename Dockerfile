# One image for both processes: the API (default command) and the worker (compose overrides it).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
RUN useradd --create-home --uid 10001 jobqueue

COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install .
# The worker's composition root; `arq` imports it from the working directory.
COPY worker_settings.py ./

USER jobqueue
EXPOSE 8000
CMD ["python", "-m", "jobqueue", "serve", "--host", "0.0.0.0", "--port", "8000"]
