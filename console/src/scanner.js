// Camera QR scanning: getUserMedia frames drawn to a canvas and decoded with jsQR (bundled).
import jsQR from "jsqr";

const MAX_WIDTH = 640; // decoding a downscaled frame is fast enough on a tablet and still reads phone QRs
const INTERVAL_MS = 120;

/**
 * Start the camera in `video`; call `onResult(text)` once with the first QR read.
 * Resolves to a stop() function; rejects when the camera cannot be opened.
 */
export async function startScanner(video, onResult) {
  if (!navigator.mediaDevices?.getUserMedia) {
    const error = new Error("insecure");
    error.name = "InsecureContext";
    throw error;
  }
  const stream = await navigator.mediaDevices.getUserMedia({
    video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 }, height: { ideal: 720 } },
    audio: false,
  });
  video.srcObject = stream;
  video.setAttribute("playsinline", "");
  video.muted = true;
  await video.play();

  const canvas = document.createElement("canvas");
  const context = canvas.getContext("2d", { willReadFrequently: true });
  let stopped = false;
  let timer = null;

  const stop = () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    for (const track of stream.getTracks()) track.stop();
    video.srcObject = null;
  };

  const tick = () => {
    if (stopped) return;
    const w = video.videoWidth;
    const hgt = video.videoHeight;
    if (w && hgt) {
      const scale = Math.min(1, MAX_WIDTH / w);
      canvas.width = Math.round(w * scale);
      canvas.height = Math.round(hgt * scale);
      context.drawImage(video, 0, 0, canvas.width, canvas.height);
      const image = context.getImageData(0, 0, canvas.width, canvas.height);
      const found = jsQR(image.data, image.width, image.height, { inversionAttempts: "attemptBoth" });
      if (found?.data) {
        stop();
        onResult(found.data);
        return;
      }
    }
    timer = setTimeout(tick, INTERVAL_MS);
  };
  tick();
  return stop;
}
