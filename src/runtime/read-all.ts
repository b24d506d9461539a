import type { Readable } from 'node:stream';

export interface ReadAllOptions {
  /** Stop and reject with `tooLarge()` as soon as more than this many bytes arrived. */
  maxBytes?: number;
  tooLarge?: () => Error;
  /** The error when the stream closes before its end without one of its own. */
  closedEarly: () => Error;
}

/**
 * A node:stream's whole content, read off its 'data' events (no web stream in between). Rejects
 * when the stream errors or closes before its end, and stops reading once past `maxBytes`.
 */
export function readAll(stream: Readable, options: ReadAllOptions): Promise<Uint8Array> {
  if (stream.destroyed) return Promise.reject(stream.errored ?? options.closedEarly());
  const maxBytes = options.maxBytes ?? Number.POSITIVE_INFINITY;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = () => stream.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        done();
        stream.pause(); // the owner drains or drops the rest
        reject(options.tooLarge?.() ?? new Error(`more than ${maxBytes} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      done();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (error: Error) => {
      done();
      reject(error);
    };
    // Aborted (deadline, client gone) or cut by the peer before the end.
    const onClose = () => {
      done();
      reject(stream.errored ?? options.closedEarly());
    };
    stream.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
  });
}
