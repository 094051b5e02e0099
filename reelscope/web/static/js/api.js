// The REST API client: every request of the web app goes through here.

const TOKEN_KEY = "reelscope.token";
const READ_COOKIE = "reelscope_token"; // the API reads it for <img>/<video> when reads need a token

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
  }
}

export function getToken() {
  try {
    return localStorage.getItem(TOKEN_KEY) || "";
  } catch {
    return "";
  }
}

export function setToken(token) {
  token = (token || "").trim();
  try {
    if (token) localStorage.setItem(TOKEN_KEY, token);
    else localStorage.removeItem(TOKEN_KEY);
  } catch {
    /* private mode: the token lasts for this page only */
  }
  syncCookie(token);
}

/** Mirror the token into a same-site cookie so media elements can read a token-protected archive. */
export function syncCookie(token = getToken()) {
  const secure = location.protocol === "https:" ? "; Secure" : "";
  document.cookie = token
    ? `${READ_COOKIE}=${encodeURIComponent(token)}; path=/; SameSite=Strict${secure}`
    : `${READ_COOKIE}=; path=/; max-age=0; SameSite=Strict`;
}

/** The message of an error response: FastAPI's "detail" (a string, or a list of validation errors). */
export function detailOf(body, status) {
  const d = body && body.detail;
  if (typeof d === "string") return d;
  if (Array.isArray(d)) {
    return d
      .map((e) => {
        const loc = (e.loc || []).filter((x) => x !== "body" && x !== "query" && x !== "path").join(".");
        return loc ? `${loc}: ${e.msg}` : e.msg;
      })
      .join("; ");
  }
  return `request failed (HTTP ${status})`;
}

function explain(status, message) {
  if (status === 401) return `${message} — enter the server's API token under “API token” at the top right.`;
  if (status === 403 && /token/i.test(message)) return `${message} — check the API token at the top right.`;
  return message;
}

/**
 * fetch /api/<path>. `body` objects are sent as JSON, FormData as multipart.
 * Answers the parsed JSON (or null for 204); throws ApiError with the API's detail otherwise.
 */
export async function api(path, { method = "GET", body, query, signal } = {}) {
  const url = new URL(`/api/${path.replace(/^\/+/, "")}`, location.origin);
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, v);
  }
  const headers = { Accept: "application/json" };
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  let payload = body;
  if (body !== undefined && !(body instanceof FormData)) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(url, { method, headers, body: payload, signal });
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new ApiError(0, `cannot reach the reelscope server (${e.message})`);
  }
  if (res.status === 204) return null;
  let data = null;
  const text = await res.text();
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) throw new ApiError(res.status, explain(res.status, detailOf(data, res.status)));
  return data;
}

/**
 * POST a multipart form with upload progress (fetch cannot report it): onProgress(fraction).
 * Resolves to the parsed JSON; rejects with ApiError carrying the API's detail.
 */
export function upload(path, form, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `/api/${path.replace(/^\/+/, "")}`);
    xhr.setRequestHeader("Accept", "application/json");
    const token = getToken();
    if (token) xhr.setRequestHeader("Authorization", `Bearer ${token}`);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable && onProgress) onProgress(e.loaded / e.total);
    };
    xhr.onload = () => {
      let data = null;
      try {
        data = xhr.responseText ? JSON.parse(xhr.responseText) : null;
      } catch {
        data = null;
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(data);
      else reject(new ApiError(xhr.status, explain(xhr.status, detailOf(data, xhr.status))));
    };
    xhr.onerror = () => reject(new ApiError(0, "the upload failed: cannot reach the reelscope server"));
    xhr.send(form);
  });
}

/** URL of a keyframe or thumbnail of the media store (paths as the API gives them). */
export function mediaUrl(rel) {
  return `/api/media/${String(rel).split("/").map(encodeURIComponent).join("/")}`;
}

export function videoFileUrl(id) {
  return `/api/videos/${encodeURIComponent(id)}/file`;
}

/** WebVTT captions made from a video's stored transcript (speech stage). */
export function captionsUrl(id) {
  return `/api/videos/${encodeURIComponent(id)}/captions.vtt`;
}
