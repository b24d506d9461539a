/** Waits until the wall clock is not near a minute boundary, so a per-minute window holds a whole test. */
export async function awayFromMinuteEdge(): Promise<void> {
  while (new Date().getUTCSeconds() > 45) await new Promise((r) => setTimeout(r, 500));
}
