// Microphones: listing them, opening one, and measuring its level.

/** listDevices lists the audio inputs (labels are empty until the page was granted a microphone). */
export async function listDevices(mediaDevices: MediaDevices | undefined = globalThis.navigator?.mediaDevices): Promise<MediaDeviceInfo[]> {
  if (!mediaDevices) return [];
  return (await mediaDevices.enumerateDevices()).filter((d) => d.kind === "audioinput");
}

/** openMicrophone opens a microphone: the given device, or the default one. */
export async function openMicrophone(mediaDevices: MediaDevices | undefined, deviceId?: string): Promise<MediaStreamTrack> {
  if (!mediaDevices) throw new DOMException("no media devices here (an insecure origin?)", "NotSupportedError");
  const audio: MediaTrackConstraints | boolean = deviceId ? { deviceId: { exact: deviceId } } : true;
  const stream = await mediaDevices.getUserMedia({ audio });
  return stream.getAudioTracks()[0];
}

/**
 * LevelMeter measures a track's level from its samples (an AnalyserNode):
 * what the user's microphone picks up, muted or not (it listens to a clone
 * of the track), so a page can show that the right device is live, or that
 * the user speaks while muted.
 */
export class LevelMeter {
  private ctx: AudioContext;
  private analyser: AnalyserNode;
  private buf: Float32Array<ArrayBuffer>;
  private track: MediaStreamTrack;

  constructor(track: MediaStreamTrack) {
    this.track = track.clone();
    this.track.enabled = true;
    this.ctx = new AudioContext();
    const src = this.ctx.createMediaStreamSource(new MediaStream([this.track]));
    this.analyser = this.ctx.createAnalyser();
    this.analyser.fftSize = 1024;
    src.connect(this.analyser);
    this.buf = new Float32Array(this.analyser.fftSize);
  }

  /** level is the RMS of the last ~20 ms, 0 (silence) to 1 (full scale). */
  level(): number {
    if (this.ctx.state === "suspended") this.ctx.resume().catch(() => {});
    this.analyser.getFloatTimeDomainData(this.buf);
    let sum = 0;
    for (const v of this.buf) sum += v * v;
    return Math.min(1, Math.sqrt(sum / this.buf.length));
  }

  close(): void {
    this.track.stop();
    this.ctx.close().catch(() => {});
  }
}
