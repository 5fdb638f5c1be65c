# busybox sh acceptance script of issue 4: arithmetic, pipes between builtins
# and applets, command substitution, tar create + extract, find, sort, sed,
# awk, sha256sum. Runs in the directory given as $1; deterministic output.
set -e
cd "$1"
echo "arith $((6 * 7)) $(( (1 << 10) % 1000 ))"
i=0; while [ $i -lt 50 ]; do i=$((i + 1)); done; echo "loop $i"
echo "pipe $(echo hello world | tr a-z A-Z | sed 's/WORLD/THERE/')"
printf 'b\na\nc\n' | sort -r | head -2 | tr '\n' ' '; echo
mkdir -p src/a/b
echo hello > src/a/one.txt
printf 'zeta\nalpha\nmid\n' > src/a/b/two.txt
seq 1 200 > src/a/b/nums.txt
tar cf t.tar src
mkdir out
(cd out && tar xf ../t.tar)
find out | sort
sort out/src/a/b/two.txt
sed -n '2p;$p' out/src/a/b/nums.txt
awk '{ s += $1 } END { print "awk sum", s, NR }' out/src/a/b/nums.txt
sha256sum out/src/a/one.txt | cut -c1-16
wc -l < out/src/a/b/nums.txt
cat out/src/a/one.txt | while read w; do echo "read $w"; done
if grep -q alpha out/src/a/b/two.txt; then echo "grep found"; fi
rm -r out src t.tar
ls
echo "status of false: $(false || echo $?)"
echo "comm: $(cat /proc/self/comm)"
exit 3
