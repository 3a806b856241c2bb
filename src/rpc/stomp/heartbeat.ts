/** The smallest heart-beat interval we agree to, as vdsm does (lower non-zero requests are raised to it). */
export const HEARTBEAT_FLOOR_MS = 1000;

export interface HeartbeatPlan {
  /** We send an EOL whenever we have been silent this long (0 = never). */
  sendEveryMs: number;
  /** The client promised traffic this often (0 = it sends none). */
  expectEveryMs: number;
  /** The value of the CONNECTED `heart-beat` header. */
  header: string;
}

/**
 * STOMP heart-beat negotiation. The client's `cx,cy` means "I send every cx, I want to hear every cy"; we answer
 * `cy,cx`: we send what the client wants to hear and expect what it offers. The engine sends `0,15000`, we answer
 * `15000,0` and send an EOL after 15 s of silence.
 */
export function negotiateHeartbeat(header: string | undefined, floorMs = HEARTBEAT_FLOOR_MS): HeartbeatPlan {
  const [cx, cy] = (header ?? '0,0').split(',').map((part) => {
    const n = Number.parseInt(part.trim(), 10);
    return Number.isFinite(n) && n > 0 ? Math.max(n, floorMs) : 0;
  });
  const sendEveryMs = cy ?? 0;
  const expectEveryMs = cx ?? 0;
  return { sendEveryMs, expectEveryMs, header: `${sendEveryMs},${expectEveryMs}` };
}
