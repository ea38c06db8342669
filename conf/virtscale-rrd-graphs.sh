#!/usr/bin/env bash
# virtscale-rrd-graphs.sh: PNG graphs of virtscale's values from the RRD files
# collectd's rrdtool plugin keeps (DataDir/HOST/PLUGIN[-PI]/TYPE[-TI].rrd).
#
#   virtscale-rrd-graphs.sh [-d RRD_DIR] [-o OUT_DIR] [-s START] [-e END]
#                           [-v VM]... [-p PLUGIN] [-W WIDTH] [-H HEIGHT]
#
# Per VM: CPU %, disk bytes/s and operations/s, NIC bytes/s, memory. For the
# selected VMs together: virtscale-start's boot timings. Per hypervisor: the
# plugin's own values (round time, value age, domains). Each PNG written is
# printed on a line of its own; a graph whose files are missing is left out
# with a note on stderr.
#
# The boot timings are sent once per start (plugin virtscale_start, type
# duration, one file per VM and phase): each VM gets a bar at the time it was
# ready, as high as its time to ready, and a legend row with its five phases,
# all from each file's last update (rrdtool lastupdate), which holds the
# value whatever the file's step (see below).
set -euo pipefail

prog=${0##*/}

usage() {
  cat <<EOF
Usage: ${prog} [OPTION]...
Draw PNG graphs of virtscale's values from collectd's rrdtool files.

  -d, --rrd-dir DIR   collectd rrdtool DataDir (default /var/lib/collectd/rrd)
  -o, --out-dir DIR   where the PNGs go, created if missing (default .)
  -s, --start TIME    start of the window, rrdtool AT-style (default end-1h)
  -e, --end TIME      end of the window (default now)
  -v, --vm NAME       only this VM (its host field, or plugin instance, as in
                      the RRD dir); repeat for more; default every VM found
  -p, --plugin NAME   plugin name of the VMs' values (default virtscale;
                      virt with Compatibility "virt")
  -W, --width N       width of the plot area in pixels (default 700)
  -H, --height N      height of the plot area in pixels (default 200)
  -h, --help          this text

Prints the path of each PNG written. Exit status: 0 graphs written, 1 no
virtscale data or rrdtool failed, 2 bad usage.
EOF
}

die() {
  printf '%s: %s\n' "${prog}" "$*" >&2
  exit 1
}

bad_usage() {
  printf '%s: %s\n' "${prog}" "$*" >&2
  printf "Try '%s --help'.\n" "${prog}" >&2
  exit 2
}

note() {
  printf '%s: note: %s\n' "${prog}" "$*" >&2
}

rrd_dir=/var/lib/collectd/rrd
out_dir=.
start='end-1h'
end=now
plugin=virtscale
width=700
height=200
want_vms=()

while (($# > 0)); do
  case $1 in
  --*=*)
    set -- "${1%%=*}" "${1#*=}" "${@:2}"
    continue
    ;;
  -h | --help)
    usage
    exit 0
    ;;
  -d | --rrd-dir | -o | --out-dir | -s | --start | -e | --end | -v | --vm | \
    -p | --plugin | -W | --width | -H | --height)
    (($# >= 2)) || bad_usage "option $1 needs a value"
    ;;
  *)
    bad_usage "unknown argument '$1'"
    ;;
  esac
  case $1 in
  -d | --rrd-dir) rrd_dir=$2 ;;
  -o | --out-dir) out_dir=$2 ;;
  -s | --start) start=$2 ;;
  -e | --end) end=$2 ;;
  -v | --vm) want_vms+=("$2") ;;
  -p | --plugin) plugin=$2 ;;
  -W | --width) width=$2 ;;
  -H | --height) height=$2 ;;
  esac
  shift 2
done

for pair in "--width:${width}" "--height:${height}"; do
  value=${pair#*:}
  if ! [[ ${value} =~ ^[0-9]{1,6}$ ]] || ((10#${value} < 50 || 10#${value} > 5000)); then
    bad_usage "${pair%%:*} '${value}': want a number of pixels from 50 to 5000"
  fi
done
width=$((10#${width}))
height=$((10#${height}))
# collectd plugin names hold neither '-' nor '/'.
[[ ${plugin} =~ ^[A-Za-z0-9_]+$ ]] ||
  bad_usage "--plugin '${plugin}': want a collectd plugin name (letters, digits, _)"
[[ -n ${rrd_dir} ]] || bad_usage "--rrd-dir is empty"
[[ -d ${rrd_dir} ]] || die "RRD dir '${rrd_dir}' does not exist or is not a directory"
command -v rrdtool >/dev/null || die "rrdtool not found (Debian package rrdtool)"

export LC_NUMERIC=C
shopt -s nullglob

# ---------------------------------------------------------------------------
# names

# A file name for an identifier field: bytes other than [A-Za-z0-9._+-]
# become %XX, so different names never share a file.
file_name() {
  local LC_ALL=C s=$1 out='' c hex i
  for ((i = 0; i < ${#s}; i++)); do
    c=${s:i:1}
    case ${c} in
    [A-Za-z0-9._+-]) out+=${c} ;;
    *)
      printf -v hex '%%%02X' "'${c}"
      out+=${hex}
      ;;
    esac
  done
  printf '%s' "${out}"
}

# rrdtool splits graph arguments at ':' (a backslash escapes it); nothing
# else in a path is special.
esc_path() {
  printf '%s' "${1//:/\\:}"
}

# Text for legend=/COMMENT: ':' escaped; a trailing backslash would be read
# as a format code, so a space follows it.
esc_text() {
  local s=${1//:/\\:}
  [[ ${s} == *\\ ]] && s+=' '
  printf '%s' "${s}"
}

palette=(1f77b4 d62728 2ca02c ff7f0e 9467bd 8c564b e377c2 17becf bcbd22 7f7f7f)

# ---------------------------------------------------------------------------
# what is there

vm_labels=()    # VM label: HOST, or HOST/PI when the VM is a plugin instance
vm_dirs=()      # its DataDir/HOST/PLUGIN[-PI]
vm_keys=()      # its name as virtscale-start writes it (the host field)
storm_keys=()   # hosts with virtscale_start per-VM timings
hv_hosts=()     # hosts with the plugin's own values
hv_dirs=()

is_vm_dir() {
  local f
  for f in "$1"/percent-virt_cpu_total.rrd "$1"/virt_cpu_total.rrd \
    "$1"/memory-total.rrd "$1"/domain_state.rrd "$1"/disk_octets-*.rrd \
    "$1"/if_octets-*.rrd; do
    [[ -f ${f} ]] && return 0
  done
  return 1
}

wanted() {
  local name
  ((${#want_vms[@]} == 0)) && return 0
  for name in "${want_vms[@]}"; do
    [[ ${name} == "$1" || ${name} == "$2" ]] && return 0
  done
  return 1
}

for dir in "${rrd_dir}"/*/"${plugin}" "${rrd_dir}"/*/"${plugin}"-*; do
  if ! [[ -d ${dir} ]] || ! is_vm_dir "${dir}"; then
    continue
  fi
  host=${dir%/*}
  host=${host##*/}
  pdir=${dir##*/}
  if [[ ${pdir} == "${plugin}" ]]; then
    label=${host} key=${host}
  else
    key=${pdir#"${plugin}"-}
    label="${host}/${key}"
  fi
  wanted "${label}" "${key}" || continue
  vm_labels+=("${label}")
  vm_dirs+=("${dir}")
  vm_keys+=("${key}")
done

phases=(wait create running ready total)
for dir in "${rrd_dir}"/*/virtscale_start; do
  host=${dir%/*}
  host=${host##*/}
  for phase in "${phases[@]}"; do
    if [[ -f ${dir}/duration-${phase}.rrd ]]; then
      wanted "${host}" "${host}" && storm_keys+=("${host}")
      break
    fi
  done
done

for dir in "${rrd_dir}"/*/"${plugin}" "${rrd_dir}"/*/virtscale; do
  [[ -f ${dir}/count-domains.rrd || -f ${dir}/duration-round_free.rrd ]] ||
    continue
  host=${dir%/*}
  host=${host##*/}
  seen=0
  for h in "${hv_hosts[@]}"; do
    [[ ${h} == "${host}" ]] && seen=1
  done
  ((seen)) && continue
  hv_hosts+=("${host}")
  hv_dirs+=("${dir}")
done

for name in "${want_vms[@]}"; do
  found=0
  for i in "${!vm_labels[@]}"; do
    [[ ${vm_labels[i]} == "${name}" || ${vm_keys[i]} == "${name}" ]] && found=1
  done
  for key in "${storm_keys[@]}"; do
    [[ ${key} == "${name}" ]] && found=1
  done
  ((found)) || die "no virtscale data for VM '${name}' in '${rrd_dir}'"
done

if ((${#vm_labels[@]} + ${#storm_keys[@]} + ${#hv_hosts[@]} == 0)); then
  die "no virtscale data in '${rrd_dir}' (looked for HOST/${plugin}/*.rrd," \
    "HOST/virtscale_start/duration-*.rrd and HOST/virtscale/count-domains.rrd)"
fi

# The window in epoch seconds: which boot timings to list, and the width of
# their bars. rrdtool checks START and END here.
if ((${#vm_dirs[@]} > 0)); then
  any=$(printf '%s\n' "${vm_dirs[0]}"/*.rrd | head -n 1)
elif ((${#storm_keys[@]} > 0)); then
  any=$(printf '%s\n' "${rrd_dir}/${storm_keys[0]}"/virtscale_start/duration-*.rrd |
    head -n 1)
else
  any=$(printf '%s\n' "${hv_dirs[0]}"/*.rrd | head -n 1)
fi
ds=$(rrdtool info "${any}" | sed -n 's/^ds\[\(.*\)\]\.index = 0$/\1/p')
[[ -n ${ds} ]] || die "'${any}': no data source (not an RRD file?)"
meta=$(rrdtool graphv /dev/null --start "${start}" --end "${end}" \
  "DEF:x=$(esc_path "${any}"):${ds}:AVERAGE" LINE1:x#000000 2>&1) ||
  bad_usage "window --start '${start}' --end '${end}': ${meta#ERROR: }"
[[ ${meta} =~ graph_start\ =\ ([0-9]+).*graph_end\ =\ ([0-9]+) ]] ||
  die "rrdtool graphv gave no window: ${meta}"
t_start=${BASH_REMATCH[1]} t_end=${BASH_REMATCH[2]}

mkdir -p -- "${out_dir}" || die "cannot create output dir '${out_dir}'"
[[ -w ${out_dir} ]] || die "output dir '${out_dir}' is not writable"

# ---------------------------------------------------------------------------
# drawing

args=()   # the rrdtool arguments of the graph being built
nseries=0 # series in it

# graph OUT TITLE VERTICAL-LABEL [rrdtool options]: draws args, prints OUT.
graph() {
  local out=$1 title=$2 vlabel=$3 msg
  shift 3
  if ! msg=$(rrdtool graph "${out}" --imgformat PNG --start "${start}" \
    --end "${end}" --width "${width}" --height "${height}" \
    --title "${title}" --vertical-label "${vlabel}" "$@" "${args[@]}" \
    2>&1 >/dev/null); then
    die "rrdtool graph '${out}' failed: ${msg}"
  fi
  printf '%s\n' "${out}"
}

# series FILE DS LEGEND FORMAT [up|down]: a line with average, max and last.
# "up" and "down" are the two halves of a pair: "down" is drawn below the
# axis, and both add an invisible mirror image, so the scale is symmetric and
# zero, the middle, stays visible.
series() {
  local file=$1 ds=$2 legend=$3 fmt=$4 half=${5-} v colour stat
  v=s${nseries}
  colour=${palette[nseries % ${#palette[@]}]}
  nseries=$((nseries + 1))
  printf -v legend '%-22s' "${legend}"
  args+=("DEF:${v}=$(esc_path "${file}"):${ds}:AVERAGE"
    "CDEF:${v}n=${v},-1,*")
  case ${half} in
  up) args+=("LINE1:${v}n" "LINE2:${v}#${colour}:legend=$(esc_text "${legend}")") ;;
  down) args+=("LINE1:${v}" "LINE2:${v}n#${colour}:legend=$(esc_text "${legend}")") ;;
  *) args+=("LINE2:${v}#${colour}:legend=$(esc_text "${legend}")") ;;
  esac
  for stat in AVERAGE MAXIMUM LAST; do
    args+=("VDEF:${v}${stat}=${v},${stat}")
  done
  args+=("GPRINT:${v}AVERAGE:avg ${fmt}" "GPRINT:${v}MAXIMUM:max ${fmt}"
    "GPRINT:${v}LAST:last ${fmt}\\l")
}

# pairs DIR TYPE DS1 DS2 FORMAT: both data sources of each TYPE-*.rrd, the
# first above the axis, the second below (so a line at zero stays visible).
pairs() {
  local dir=$1 type=$2 ds1=$3 ds2=$4 fmt=$5 file dev
  for file in "${dir}/${type}"-*.rrd; do
    dev=${file##*/"${type}"-}
    dev=${dev%.rrd}
    series "${file}" "${ds1}" "${dev} ${ds1}" "${fmt}" up
    series "${file}" "${ds2}" "${dev} ${ds2} (down)" "${fmt}" down
  done
}

begin() {
  args=()
  nseries=0
}

if [[ ${plugin} == virt ]]; then
  cpu_label="% of the host's CPUs"
else
  cpu_label="% of the VM's vCPUs"
fi

for i in "${!vm_labels[@]}"; do
  label=${vm_labels[i]}
  dir=${vm_dirs[i]}
  base="${out_dir}/$(file_name "${label}")"

  begin
  if [[ -f ${dir}/percent-virt_cpu_total.rrd ]]; then
    series "${dir}/percent-virt_cpu_total.rrd" value "CPU" "%5.1lf %%"
    graph "${base}-cpu.png" "${label}: CPU" "${cpu_label}" --lower-limit 0
  else
    note "${label}: no percent-virt_cpu_total.rrd, no CPU graph"
  fi

  for kind in disk_octets:read:write:"disk bytes/s":"bytes/s":disk-octets \
    disk_ops:read:write:"disk operations/s":"operations/s":disk-ops \
    if_octets:rx:tx:"NIC bytes/s":"bytes/s":nic-octets; do
    IFS=: read -r type ds1 ds2 title vlabel suffix <<<"${kind}"
    begin
    pairs "${dir}" "${type}" "${ds1}" "${ds2}" "%7.1lf %s"
    if ((nseries > 0)); then
      graph "${base}-${suffix}.png" "${label}: ${title}" "${vlabel}" \
        --lower-limit -1 --upper-limit 1
    else
      note "${label}: no ${type}-*.rrd, no ${title} graph"
    fi
  done

  begin
  done_mem=" "
  for name in maximum total rss available usable unused disk_caches; do
    if [[ -f ${dir}/memory-${name}.rrd ]]; then
      series "${dir}/memory-${name}.rrd" value "${name}" "%6.1lf %sB"
      done_mem+="${name} "
    fi
  done
  for file in "${dir}"/memory-*.rrd; do
    name=${file##*/memory-}
    name=${name%.rrd}
    [[ ${done_mem} == *" ${name} "* ]] && continue
    series "${file}" value "${name}" "%6.1lf %sB"
  done
  if ((nseries > 0)); then
    graph "${base}-memory.png" "${label}: memory" "bytes (k = 1024)" --base 1024 \
      --lower-limit 0
  else
    note "${label}: no memory-*.rrd, no memory graph"
  fi
done

# --- boot timings ------------------------------------------------------------

# last_value FILE: "EPOCH VALUE" of the file's last update ("" if unknown).
last_value() {
  local out line
  out=$(rrdtool lastupdate "$1" 2>/dev/null) || return 0
  line=${out##*$'\n'}
  [[ ${line} =~ ^([0-9]+):[[:space:]]*([-+0-9.eE]+)$ ]] || return 0
  printf '%s %s' "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
}

if ((${#storm_keys[@]} > 0)); then
  # A one-shot value is one update of its file: with collectd's default
  # step (the value's interval, 3600 s for these) it never completes a step,
  # and even with "StepSize 1" it is dropped from every coarser archive (one
  # known step of many is under the XFF). What the file always has is its
  # last update: the bars and numbers come from there. A bar is drawn on the
  # steps of a time base, a file written every interval (the first VM's CPU,
  # or the hypervisor's round time, else the timing file itself), about 4
  # pixels wide and at least one step of the time base.
  base_file=
  for f in "${vm_dirs[@]/%//percent-virt_cpu_total.rrd}" \
    "${hv_dirs[@]/%//duration-round_free.rrd}"; do
    if [[ -f ${f} ]]; then
      base_file=${f}
      break
    fi
  done
  if [[ -z ${base_file} ]]; then
    base_file=$(printf '%s\n' \
      "${rrd_dir}/${storm_keys[0]}"/virtscale_start/duration-*.rrd | head -n 1)
  fi
  base_ds=$(rrdtool info "${base_file}" |
    sed -n 's/^ds\[\(.*\)\]\.index = 0$/\1/p')
  base_step=$(rrdtool info "${base_file}" | sed -n 's/^step = //p')
  bar=$(((t_end - t_start) * 4 / width))
  ((bar >= base_step)) || bar=${base_step}

  begin
  args+=("COMMENT:legend=$(esc_text "$(printf '%-26s' 'VM, bar: time to ready')")"
    "COMMENT:legend=wait    create  running ready   total (s)\\l")
  # The VMs whose bar value falls in the window, in the order they finished.
  found=()
  for key in "${storm_keys[@]}"; do
    dir=${rrd_dir}/${key}/virtscale_start
    for phase in total ready running; do
      [[ -f ${dir}/duration-${phase}.rrd ]] || continue
      read -r t _ <<<"$(last_value "${dir}/duration-${phase}.rrd")"
      if [[ -n ${t-} ]] && ((t >= t_start && t <= t_end)); then
        found+=("${t}"$'\t'"${phase}"$'\t'"${key}")
      fi
      break
    done
  done
  shown=0
  bars=()
  prev=0 # where the previous bar starts
  while IFS=$'\t' read -r -d '' t phase key; do
    dir=${rrd_dir}/${key}/virtscale_start
    row=''
    for p in "${phases[@]}"; do
      read -r _ value <<<"$(last_value "${dir}/duration-${p}.rrd")"
      if [[ -n ${value-} ]]; then
        printf -v value '%-8.3f' "${value}"
      else
        value='-       '
      fi
      row+=${value}
    done
    v=b${nseries}
    colour=${palette[nseries % ${#palette[@]}]}
    nseries=$((nseries + 1))
    shown=$((shown + 1))
    # Bars of VMs that finished within a bar's width of each other would hide
    # each other: each is drawn at the earliest place right of the previous.
    x=$((t > prev + bar ? t : prev + bar))
    prev=${x}
    # The bar is the last update's value from x to x + bar, drawn on the
    # time base's steps. Bars first, their tops and the legend over them all.
    read -r _ value <<<"$(last_value "${dir}/duration-${phase}.rrd")"
    printf -v value '%.6f' "${value}"
    bars+=("DEF:${v}t=$(esc_path "${base_file}"):${base_ds}:AVERAGE"
      "CDEF:${v}=${v}t,POP,TIME,${x},GE,TIME,$((x + bar)),LT,*,${value},UNKN,IF"
      "AREA:${v}#${colour}50")
    if ((shown <= 20)); then
      args+=("LINE2:${v}#${colour}:legend=$(esc_text "$(printf '%-24s' "${key}")")"
        "COMMENT:legend=${row}\\l")
    else
      args+=("LINE2:${v}#${colour}")
    fi
  done < <(((${#found[@]} > 0)) && printf '%s\0' "${found[@]}" | sort -z -n)
  if ((shown > 20)); then
    args+=("COMMENT:legend=and $((shown - 20)) more VMs\\l")
  fi
  args=("${bars[@]}" "${args[@]}")
  for host in "${rrd_dir}"/*/virtscale_start/duration-wall.rrd; do
    read -r t wall <<<"$(last_value "${host}")"
    if [[ -z ${t-} ]] || ((t < t_start || t > t_end)); then
      continue
    fi
    host=${host%/virtscale_start/*}
    host=${host##*/}
    read -r _ n <<<"$(last_value "${rrd_dir}/${host}/virtscale_start/count-vms.rrd")"
    read -r _ ready <<<"$(last_value "${rrd_dir}/${host}/virtscale_start/count-ready.rrd")"
    read -r _ bound <<<"$(last_value "${rrd_dir}/${host}/virtscale_start/count-bound.rrd")"
    args+=("COMMENT:legend=$(esc_text "$(printf \
      'batch on %s at %s: %.0f of %.0f VMs ready in %.1f s (bound %.0f)' \
      "${host}" "$(date -d "@${t}" +%H:%M:%S)" "${ready:-0}" "${n:-0}" \
      "${wall}" "${bound:-0}")")\\l")
  done
  if ((shown > 0)); then
    graph "${out_dir}/boot-timings.png" \
      "virtscale-start: boot timings (bar: time to ready)" "seconds" \
      --lower-limit 0
  else
    note "no boot timings in the window, no boot-timings graph"
  fi
fi

# --- the plugin's own values ------------------------------------------------

for i in "${!hv_hosts[@]}"; do
  host=${hv_hosts[i]}
  dir=${hv_dirs[i]}
  base="${out_dir}/host-$(file_name "${host}")"
  begin
  for name in round_free round_monitor age_max age_p50 sample; do
    [[ -f ${dir}/duration-${name}.rrd ]] &&
      series "${dir}/duration-${name}.rrd" seconds "${name}" "%6.3lf s"
  done
  if ((nseries > 0)); then
    graph "${base}-sampling.png" "${host}: virtscale sampling" "seconds" \
      --lower-limit 0
  fi
  begin
  for name in domains sampled late unresponsive_domains errors; do
    [[ -f ${dir}/count-${name}.rrd ]] &&
      series "${dir}/count-${name}.rrd" value "${name}" "%6.0lf"
  done
  if ((nseries > 0)); then
    graph "${base}-domains.png" "${host}: virtscale domains" "domains" \
      --lower-limit 0
  fi
done
