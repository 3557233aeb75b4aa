// The shapes of wit/outbound-http.wit as jco hands them to the host.

/** `request`. */
export interface HttpRequest {
  method: 'get' | 'head' | 'post' | 'put' | 'patch' | 'delete' | 'options';
  url: string;
  headers: [string, string][];
  body?: Uint8Array;
  timeoutMs?: number;
}

/** `response`. */
export interface HttpResponse {
  status: number;
  headers: [string, string][];
  body: Uint8Array;
}

/** `http-error`. */
export type HttpError =
  | { tag: 'denied'; val: string }
  | { tag: 'invalid'; val: string }
  | { tag: 'timeout' }
  | { tag: 'network'; val: string }
  | { tag: 'too-large' }
  | { tag: 'limited'; val: string };

export type SendResult = { tag: 'ok'; val: HttpResponse } | { tag: 'err'; val: HttpError };
