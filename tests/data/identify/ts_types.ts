type Result<T, E = Error> = { ok: true; value: T } | { ok: false; error: E };

enum Color { Red, Green, Blue }

async function fetchJson<T>(url: string): Promise<Result<T>> {
  try {
    const res = await fetch(url);
    return { ok: true, value: (await res.json()) as T };
  } catch (e) {
    return { ok: false, error: e as Error };
  }
}
