#!/bin/sh
# Mailbox benchmark: generates N small messages (default 100000) in a temporary Maildir,
# then times `postoffice mail reindex` and a few `postoffice mail search` queries.
#
#   Benchmarks/mailbox-bench.sh [COUNT] [BINARY]
#
# BINARY defaults to a release build (built here if missing). Needs python3.
set -eu
COUNT=${1:-100000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BINARY=${2:-}
if [ -z "$BINARY" ]; then
    (cd "$ROOT" && swift build -c release --product postoffice >/dev/null)
    BINARY="$ROOT/.build/release/postoffice"
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
MAILDIR="$WORK/mail"

python3 - "$MAILDIR" "$COUNT" <<'PY'
import os, random, sys
root, count = sys.argv[1], int(sys.argv[2])
for sub in ("cur", "new", "tmp"):
    os.makedirs(os.path.join(root, sub), exist_ok=True)
rng = random.Random(42)
words = ("meeting report budget invoice lunch project deadline review travel holiday contract "
         "server backup release draft schedule coffee weekend family photo garden music ticket "
         "order delivery payment account password update security newsletter conference").split()
names = ["Alice", "Bob", "Carol", "Dave", "Eve", "Frank", "Grace", "Heidi", "Ivan", "Judy"]
months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
for i in range(count):
    sender = rng.choice(names)
    subject = " ".join(rng.choice(words) for _ in range(rng.randint(2, 6)))
    body = "\n".join(" ".join(rng.choice(words) for _ in range(rng.randint(6, 14))) for _ in range(rng.randint(3, 12)))
    if i % 1000 == 0:
        body += "\nunicorn\n"
    date = "%d %s %d %02d:%02d:00 +0000" % (rng.randint(1, 28), rng.choice(months), rng.randint(2015, 2024),
                                            rng.randint(0, 23), rng.randint(0, 59))
    text = ("From: %s <%s@example.com>\nTo: me@example.org\nSubject: %s\nDate: %s\n"
            "Message-ID: <%d@bench>\n\n%s\n") % (sender, sender.lower(), subject, date, i, body)
    name = "1700000000.M%dP1.bench,S=%d" % (i, len(text))
    with open(os.path.join(root, "new", name), "w") as f:
        f.write(text)
PY

now() { date +%s%N; }
ms() { echo $(( ($2 - $1) / 1000000 )); }

echo "messages: $COUNT ($(du -sh "$MAILDIR" | cut -f1))"
start=$(now)
"$BINARY" mail reindex --maildir "$MAILDIR"
end=$(now)
elapsed=$(ms "$start" "$end")
echo "mail reindex: ${elapsed} ms wall, $(( COUNT * 1000 / (elapsed > 0 ? elapsed : 1) )) messages/s"

for query in "unicorn" "from:alice subject:invoice" "budget deadline after:2020-01-01" "has:attachment" "zzznomatch"; do
    "$BINARY" mail search --maildir "$MAILDIR" --limit 50 $query >/dev/null  # warm the page cache
    best=999999
    for _ in 1 2 3 4 5; do
        start=$(now)
        "$BINARY" mail search --maildir "$MAILDIR" --limit 50 $query >/dev/null
        end=$(now)
        t=$(ms "$start" "$end")
        [ "$t" -lt "$best" ] && best=$t
    done
    hits=$("$BINARY" mail search --maildir "$MAILDIR" --json $query | grep -c '"id"' || true)
    echo "mail search $query: ${best} ms (whole command, best of 5), $hits hits"
done
start=$(now)
"$BINARY" mail list --maildir "$MAILDIR" --limit 20 >/dev/null
end=$(now)
echo "mail list --limit 20: $(ms "$start" "$end") ms (whole command)"

# One message arrives from another program: the next command relists new/ (names and sizes)
# and indexes only the newcomer.
sleep 2
printf 'From: late@example.com\nSubject: late arrival\nDate: 1 Jan 2025 00:00:00 +0000\n\nunicorn\n' \
    > "$MAILDIR/new/1800000000.M1P1.bench"
start=$(now)
"$BINARY" mail search --maildir "$MAILDIR" --limit 50 unicorn >/dev/null
end=$(now)
echo "mail search after one new file (relist $COUNT names, index 1): $(ms "$start" "$end") ms"
start=$(now)
"$BINARY" mail search --maildir "$MAILDIR" --limit 50 unicorn >/dev/null
end=$(now)
echo "mail search with the directory unchanged since: $(ms "$start" "$end") ms"
