#!/bin/sh
# The OS programs the lab starts for itself: redis-server (Celery's broker and result store),
# rabbitmq-server (Celery's other broker),
# nginx (the buffering reverse proxy), wrk (a second load client, its connections opened at
# once), postgres (the database lessons: a cluster of the lab's
# own, never the system's service) and chromium (the docs' browser check, headless).
# Where one is missing: root with apt-get installs it; anyone else gets one line saying how,
# and the tests and cells that need it are skipped -- except under CI=true, where a missing
# program fails the run. Nothing here starts or configures a system service.
set -u
status=0
found() {  # program: on PATH, or (PostgreSQL's, RabbitMQ's on Debian) under /usr/lib
    command -v "$1" >/dev/null 2>&1 && return 0
    [ "$1" = postgres ] && ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 && return 0
    [ "$1" = rabbitmq-server ] && [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ]
}
need() {  # program, Debian package, Homebrew formula
    found "$1" && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "os-packages: installing $2 (for $1)"
        { apt-get install -y -q --no-install-recommends "$2" >/dev/null 2>&1 \
          || { apt-get update -q >/dev/null 2>&1 \
               && apt-get install -y -q --no-install-recommends "$2" >/dev/null 2>&1; }; } \
          && found "$1" && return 0
    fi
    if [ "${CI:-}" = true ]; then
        consequence="CI=true: nothing may be skipped, so this run fails"
        status=1
    else
        consequence="its tests and cells are skipped"
    fi
    echo "os-packages: $1 not found: install it with \`sudo apt-get install $2\`" \
         "(macOS: \`brew install $3\`); $consequence"
    return 0
}
need redis-server redis-server redis
need rabbitmq-server rabbitmq-server rabbitmq
need nginx nginx-light nginx
need wrk wrk wrk
need postgres postgresql postgresql
need chromium chromium "--cask chromium"
exit $status
