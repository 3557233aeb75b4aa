// The parser ships no types; the test reads only these fields.
declare module 'parse-prometheus-text-format' {
  export default function parse(text: string): unknown[];
}
