// AudioWorklet processor: microphone audio (at the AudioContext's rate, usually 44.1 or 48 kHz) in,
// 16 kHz mono PCM16 little-endian frames out, posted to the page as transferable ArrayBuffers.
//
// Downsampling is a band-limited (windowed-sinc) polyphase resampler. The ratio in/out is reduced to
// L/M (48000 -> 16000 is 1/3, 44100 -> 16000 is 160/441): output sample n sits at input position n*M/L,
// an integer index plus one of L phases. Each phase has its own precomputed filter, a Blackman-windowed
// sinc whose cutoff (0.45 x the 16 kHz rate, i.e. 7.2 kHz) removes what would alias; its taps are
// normalised to a gain of 1. Positions are kept as exact integers (in 1/L of an input sample), so there is
// no drift however long the stream runs. Cost at 48 kHz: ~60 multiply-adds per output sample.

const OUT_RATE = 16000;
const ZERO_CROSSINGS = 10; // filter half-length, in zero crossings of the sinc
const ROLLOFF = 0.9; // cutoff as a fraction of the output Nyquist frequency
const MAX_PHASES = 4096; // a rate pair with more phases (never seen in practice) uses the nearest phase

function gcd(a, b) {
  while (b) [a, b] = [b, a % b];
  return a;
}

class Resampler {
  constructor(inRate, outRate) {
    inRate = Math.round(inRate);
    const g = gcd(inRate, outRate);
    this.L = outRate / g; // phases per input sample
    this.M = inRate / g; // input advance per output sample, in 1/L units
    this.passthrough = inRate === outRate;
    const phases = Math.min(this.L, MAX_PHASES);
    // Cutoff in cycles per input sample: below both Nyquist frequencies.
    const cutoff = (0.5 * ROLLOFF * Math.min(inRate, outRate)) / inRate;
    const half = Math.ceil(ZERO_CROSSINGS / (2 * cutoff)); // taps each side of the output position
    this.half = half;
    this.taps = 2 * half;
    this.phases = phases;
    this.table = new Float32Array(phases * this.taps);
    for (let p = 0; p < phases; p++) {
      const frac = p / phases; // output position minus its integer input index, in [0, 1)
      let sum = 0;
      for (let j = 0; j < this.taps; j++) {
        const t = j - half + 1 - frac; // distance from the output position to input sample (index + j - half + 1)
        const x = 2 * cutoff * t;
        const sinc = x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
        const w = t / (half + 1); // in (-1, 1)
        const blackman = 0.42 + 0.5 * Math.cos(Math.PI * w) + 0.08 * Math.cos(2 * Math.PI * w);
        const h = sinc * blackman;
        this.table[p * this.taps + j] = h;
        sum += h;
      }
      for (let j = 0; j < this.taps; j++) this.table[p * this.taps + j] /= sum;
    }
    // Input history: `half` samples of zeros first, so the first output has its left context.
    this.buffer = new Float32Array(8192);
    this.length = half - 1;
    this.position = (half - 1) * this.L; // next output position in 1/L units, relative to buffer[0]
  }

  // Appends input samples and calls emit(sample) for every output sample now computable.
  push(input, emit) {
    if (this.passthrough) {
      for (let i = 0; i < input.length; i++) emit(input[i]);
      return;
    }
    if (this.length + input.length > this.buffer.length) {
      const bigger = new Float32Array(Math.max(this.buffer.length * 2, this.length + input.length));
      bigger.set(this.buffer.subarray(0, this.length));
      this.buffer = bigger;
    }
    this.buffer.set(input, this.length);
    this.length += input.length;
    const { L, M, taps, half, table, buffer } = this;
    const scale = this.phases / L;
    let position = this.position;
    for (;;) {
      const index = Math.floor(position / L);
      if (index + half >= this.length) break; // needs input samples not yet arrived
      const phase = position - index * L;
      const row = (scale === 1 ? phase : Math.floor(phase * scale)) * taps;
      const start = index - half + 1;
      let acc = 0;
      for (let j = 0; j < taps; j++) acc += buffer[start + j] * table[row + j];
      emit(acc);
      position += M;
    }
    // Drop input no future output needs (everything left of the next output's first tap).
    const keepFrom = Math.max(0, Math.floor(position / L) - half + 1);
    if (keepFrom > 0) {
      buffer.copyWithin(0, keepFrom, this.length);
      this.length -= keepFrom;
      position -= keepFrom * L;
    }
    this.position = position;
  }
}

class PcmFramer extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const frameMs = (options.processorOptions && options.processorOptions.frameMs) || 20;
    this.frameSamples = Math.round((OUT_RATE * frameMs) / 1000);
    this.resampler = new Resampler(sampleRate, OUT_RATE); // `sampleRate`: the AudioWorkletGlobalScope's
    this.startFrame();
    this.mono = new Float32Array(128);
    this.emit = (sample) => {
      const s = sample > 1 ? 1 : sample < -1 ? -1 : sample;
      this.view.setInt16(this.filled * 2, Math.round(s < 0 ? s * 0x8000 : s * 0x7fff), true);
      this.sumSquares += s * s;
      this.filled += 1;
      if (this.filled === this.frameSamples) this.sendFrame();
    };
    this.port.onmessage = (event) => {
      if (event.data && event.data.type === "flush") {
        if (this.filled > 0) this.sendFrame();
        this.port.postMessage({ type: "flushed" });
      }
    };
  }

  startFrame() {
    this.frame = new ArrayBuffer(this.frameSamples * 2);
    this.view = new DataView(this.frame);
    this.filled = 0;
    this.sumSquares = 0;
  }

  sendFrame() {
    const bytes = this.filled * 2; // always an even number of bytes: whole samples only
    const pcm = bytes === this.frame.byteLength ? this.frame : this.frame.slice(0, bytes);
    const rms = Math.sqrt(this.sumSquares / Math.max(1, this.filled));
    this.port.postMessage({ type: "frame", pcm, rms }, [pcm]);
    this.startFrame();
  }

  process(inputs) {
    const channels = inputs[0];
    if (channels && channels.length > 0) {
      const n = channels[0].length;
      let mono = channels[0];
      if (channels.length > 1) {
        // Mix down to mono in case the device ignored channelCount: 1.
        if (this.mono.length !== n) this.mono = new Float32Array(n);
        mono = this.mono;
        mono.fill(0);
        for (const channel of channels) for (let i = 0; i < n; i++) mono[i] += channel[i] / channels.length;
      }
      this.resampler.push(mono, this.emit);
    }
    return true; // keep running until the page disconnects the node
  }
}

registerProcessor("pcm-framer", PcmFramer);
