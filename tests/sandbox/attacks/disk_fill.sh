# Red-team program: fill the host's disk through the work dir and /tmp, file by file under the per-file size
# limit (RLIMIT_FSIZE caps each file, not the total). Prints the file system type of each place and the
# megabytes it managed to write.
for d in . /tmp; do
  echo "fs $d $(stat -f -c %T "$d")"
  total=0
  for i in $(seq 1 40); do
    head -c 50000000 /dev/zero > "$d/fill$i" 2>/dev/null || break
    total=$((total + 50))
  done
  echo "wrote $d $total"
done
