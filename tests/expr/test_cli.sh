#!/bin/sh
# test_cli.sh - end-to-end test of `baton eval` (TAP): values, --json types,
# JUEL, --jsonl order and errors, exit codes. Usage: test_cli.sh BATON
B=$1
n=0
fail=0
ok() { n=$((n + 1)); if [ "$1" = "$2" ]; then echo "ok $n - $3"; else echo "not ok $n - $3"; echo "#   got:  $1"; echo "#   want: $2"; fail=1; fi; }
NOW="--now 2026-01-01T08:00:00Z"

ok "$($B eval $NOW '1 + 1')" "2" "plain value"
ok "$($B eval $NOW --json '0.1 + 0.2')" '{"type":"number","value":0.3}' "decimal sum with --json"
ok "$($B eval $NOW --json '= amount > 100' --context '{"amount": 150}')" '{"type":"boolean","value":true}' "leading = and context"
ok "$($B eval $NOW --json 'date("2026-01-01") + duration("P1D")')" '{"type":"date","value":"2026-01-02"}' "date type"
ok "$($B eval $NOW --json 'duration("PT90M")')" '{"type":"days and time duration","value":"PT1H30M"}' "duration type"
ok "$($B eval $NOW --json 'today()' --zone Asia/Tokyo)" '{"type":"date","value":"2026-01-01"}' "zone and clock"
ok "$($B eval $NOW --json '[1..3]')" '{"type":"range","value":{"start":1,"end":3,"start included":true,"end included":true}}' "range type"
ok "$($B eval $NOW --json 'function(x) x')" '{"type":"function","value":null}' "function type"
ok "$($B eval $NOW 'kermit_${loopCounter}' --context '{"loopCounter": 2}')" '"kermit_2"' "JUEL template"
ok "$($B eval $NOW --dialect juel '${a == 1}' --context '{"a": 1}')" 'true' "JUEL dialect"
ok "$($B eval $NOW --dialect auto 'PT2H')" '"PT2H"' "auto dialect: static text"
out=$($B eval $NOW --json 'x y' 2>/dev/null); rc=$?
ok "$out" '{"error":"unexpected '"'"'y'"'"' after the expression near '"'"'y'"'"'","column":3}' "syntax error as JSON"
ok "$rc" "1" "exit 1 on a compile error"
err=$($B eval $NOW '1 +' 2>&1 >/dev/null); rc=$?
ok "$err" "baton: col 4: error: unexpected end of expression near '<end>'" "error with column on stderr"
ok "$rc" "1" "exit 1"
$B eval >/dev/null 2>&1; ok "$?" "2" "exit 2 without an expression"
$B eval --dialect cobol 1 >/dev/null 2>&1; ok "$?" "2" "exit 2 for a bad dialect"
$B eval --context '[1]' 1 >/dev/null 2>&1; ok "$?" "2" "exit 2 for a non-object context"
$B eval --help | grep -q -- '--jsonl'; ok "$?" "0" "--help lists --jsonl"
res=$(printf '%s\n' '{"expression": "a + 1", "context": {"a": 1}}' 'not json' '' \
  '{"expression": "1 +"}' '{"expression": "${x}", "context": {"x": "y"}}' \
  '{"expression": "upper case(s)", "context": {"s": "q"}, "dialect": "feel"}' | $B eval $NOW --jsonl); rc=$?
ok "$res" '{"type":"number","value":2}
{"error":"input line is not {\"expression\": string, \"context\": object}","column":0}
{"error":"unexpected end of expression near '"'"'<end>'"'"'","column":4}
{"type":"string","value":"y"}
{"type":"string","value":"Q"}' "--jsonl: one line per case, in order"
ok "$rc" "1" "--jsonl exits 1 when a case failed"
res=$(printf '%s\n' '{"expression": "1"}' | $B eval --jsonl); ok "$?" "0" "--jsonl exits 0 when all cases evaluate"
echo "1..$n"
exit $fail
