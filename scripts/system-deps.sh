#!/usr/bin/env bash
# The machine-level packages the tests need, from Debian/Ubuntu's own archive, installed only when missing:
# Python's venv module (Debian ships it apart from python3), Java 17 or newer (PySpark 4 runs the Spark
# engine's tests in a JVM) and Chromium (the report tests render the page headless). Uses apt-get as root, or
# through sudo otherwise; without either it names the packages to install and fails. Sourced (as
# scripts/test.sh does), it also exports JAVA_HOME: the home of that Java 17+ (PySpark prefers JAVA_HOME to PATH).
set -euo pipefail

wanted=()

python3 - <<'PY' || { echo "error: Python 3.11 or 3.12 is needed (python3 is $(python3 -V 2>&1))" >&2; exit 1; }
import sys
sys.exit(0 if (3, 11) <= sys.version_info[:2] <= (3, 12) else 1)
PY
if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    pyver=$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
    wanted+=("python${pyver}-venv")
fi

# Prints the path of a Java 17+ binary (java on PATH, $JAVA_HOME's, or any under /usr/lib/jvm), if any.
find_java() {
    local candidate major
    for candidate in ${JAVA_HOME:+"$JAVA_HOME/bin/java"} "$(command -v java || true)" /usr/lib/jvm/*/bin/java; do
        [ -n "$candidate" ] && [ -x "$candidate" ] || continue
        major=$("$candidate" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
        if [ -n "$major" ] && [ "$major" -ge 17 ]; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

need_java=0
find_java >/dev/null || need_java=1
need_chromium=0
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || need_chromium=1

# The first of `names` that the archive offers (apt-cache's candidate), so one script serves Debian 12/13 and
# Ubuntu: Java 17 by name where it exists, else the release's default JRE (17 or 21 on current releases).
first_available() {
    local name policy
    for name in "$@"; do
        # Read whole, then matched: `apt-cache … | grep -q` under pipefail fails when grep exits first and
        # apt-cache dies of SIGPIPE.
        policy=$(apt-cache policy "$name" 2>/dev/null || true)
        if grep -q 'Candidate: [0-9]' <<<"$policy"; then
            echo "$name"
            return 0
        fi
    done
    return 1
}
if [ ${#wanted[@]} -gt 0 ] || [ $need_java -eq 1 ] || [ $need_chromium -eq 1 ]; then
    if [ "$(id -u)" -eq 0 ]; then
        apt=(apt-get)
    elif command -v sudo >/dev/null 2>&1; then
        apt=(sudo apt-get)
    else
        echo "error: missing system packages (${wanted[*]} java>=17 chromium); install them as root:" \
             "apt-get install ${wanted[*]} openjdk-17-jre-headless chromium" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    "${apt[@]}" update -qq

    if [ $need_java -eq 1 ]; then
        java_pkg=$(first_available openjdk-17-jre-headless default-jre-headless openjdk-21-jre-headless) \
            || { echo "error: the package archive offers no Java runtime" >&2; exit 1; }
        wanted+=("$java_pkg")
    fi
    if [ $need_chromium -eq 1 ]; then
        # Debian's `chromium`; Ubuntu names its package chromium-browser.
        chromium_pkg=$(first_available chromium chromium-browser) \
            || { echo "error: the package archive offers no Chromium" >&2; exit 1; }
        wanted+=("$chromium_pkg")
    fi
    echo "installing system packages: ${wanted[*]}" >&2
    "${apt[@]}" install -y -qq --no-install-recommends "${wanted[@]}" >/dev/null

    if [ $need_java -eq 1 ] && ! find_java >/dev/null; then
        echo "error: no Java 17 or newer after installing ${wanted[*]}" >&2
        exit 1
    fi
fi

java_bin=$(find_java) || { echo "error: no Java 17 or newer (java on PATH or JAVA_HOME)" >&2; exit 1; }
JAVA_HOME=$(dirname "$(dirname "$(readlink -f "$java_bin")")")
export JAVA_HOME
