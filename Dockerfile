# Deep Research Blog: one image for the web, the workers and the scheduler.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, from the lock (exact versions, checked hashes), so code changes do not
# reinstall them. --no-deps: the lock lists every transitive dependency, so nothing is
# resolved against the index (whose newer releases would otherwise break old pips).
COPY requirements/lock.txt requirements/lock.txt
RUN pip install --no-deps --require-hashes -r requirements/lock.txt

# The source, then the project itself without resolving anything (--no-deps; its build
# requirements are in the lock, hence --no-build-isolation). The app runs from /app, so
# its templates/ and static/ folders are found next to config/.
COPY . .
RUN pip install --no-deps --no-build-isolation . && pip check

# collectstatic needs settings only: a throwaway key, never used at run time.
RUN SECRET_KEY=collectstatic-only-build-key DATABASE_URL=sqlite:////tmp/build.sqlite3 \
    LOG_DIR=/tmp/build-logs STATIC_ROOT=/app/staticfiles \
    python manage.py collectstatic --noinput \
    && rm -rf /tmp/build-logs /tmp/build.sqlite3

RUN useradd --create-home --uid 1000 app && mkdir -p /app/logs && chown -R app /app/logs
USER app

EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application", "-b", "0.0.0.0:8000", "-w", "3"]
