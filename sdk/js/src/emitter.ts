// A small typed event emitter: the SDK has no runtime dependencies.

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Listener = (...args: any[]) => void;

/** Emitter calls the listeners of typed events; a throwing listener is logged, never breaks the client. */
export class Emitter<E extends { [K in keyof E]: Listener }> {
  private listeners = new Map<keyof E, Set<Listener>>();

  /** on adds a listener and returns a function that removes it. */
  on<K extends keyof E>(event: K, fn: E[K]): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(fn);
    return () => this.off(event, fn);
  }

  /** once adds a listener called at most once. */
  once<K extends keyof E>(event: K, fn: E[K]): () => void {
    const off = this.on(event, ((...args: unknown[]) => {
      off();
      fn(...args);
    }) as E[K]);
    return off;
  }

  off<K extends keyof E>(event: K, fn: E[K]): void {
    this.listeners.get(event)?.delete(fn);
  }

  protected emit<K extends keyof E>(event: K, ...args: Parameters<E[K]>): void {
    for (const fn of [...(this.listeners.get(event) ?? [])]) {
      try {
        fn(...args);
      } catch (e) {
        console.error("voicectl: a", String(event), "listener threw:", e);
      }
    }
  }
}
