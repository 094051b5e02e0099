// Formatting of times, sizes and dates for display.

/** 83.4 -> "1:23.4"; 3725 -> "1:02:05.0". */
export function clock(seconds, digits = 1) {
  if (seconds === null || seconds === undefined || !Number.isFinite(Number(seconds))) return "–";
  let s = Math.max(0, Number(seconds));
  const hrs = Math.floor(s / 3600);
  s -= hrs * 3600;
  const min = Math.floor(s / 60);
  s -= min * 60;
  let sec = s.toFixed(digits);
  if (Number(sec) >= 60) sec = (59.999).toFixed(digits); // rounding must not show "1:60.0"
  const secPad = sec.padStart(digits ? digits + 3 : 2, "0");
  return hrs ? `${hrs}:${String(min).padStart(2, "0")}:${secPad}` : `${min}:${secPad}`;
}

/** Screen time: "12.3 s" or "2 min 05 s". */
export function duration(seconds) {
  const s = Number(seconds) || 0;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${String(Math.round(s - m * 60)).padStart(2, "0")} s`;
}

export function date(iso) {
  if (!iso) return "";
  const d = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(iso) ? iso : `${iso}Z`);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

export function percent(x) {
  return `${Math.round((Number(x) || 0) * 100)}%`;
}

export function plural(n, one, many = `${one}s`) {
  return `${n} ${n === 1 ? one : many}`;
}

/** The shot size vocabulary (DESIGN.md) with display names, in order close -> far. */
export const SIZES = [
  ["ECU", "extreme close-up"],
  ["CU", "close-up"],
  ["MS", "medium shot"],
  ["FS", "full shot"],
  ["LS", "long shot"],
];

export const EXPRESSIONS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"];

export function sizeName(code) {
  const hit = SIZES.find(([c]) => c === code);
  return hit ? hit[1] : "size unknown";
}

/** The top expression of a character's {label: share} map, e.g. "happy 47%". */
export function topExpression(expressions) {
  const entries = Object.entries(expressions || {}).sort((a, b) => b[1] - a[1]);
  return entries.length ? `${entries[0][0]} ${percent(entries[0][1])}` : "";
}
