// Package timeline renders what happened during HTTP exchanges for people to read:
//
//   - a waterfall: named phases (dns, connect, tls, request, wait, transfer...) drawn
//     as bars on one time axis ([Waterfall]; `hop get --timing`);
//   - event lines in the style of curl -v: "* connected to ..." notes, "> " request
//     and "< " response head lines ([Printer]; `hop get -v`);
//   - per-connection timelines: the events of many requests grouped by the connection
//     that carried them, on a common clock ([WriteConnections]; `hop lab`).
//
// The renderers take phases and events generically — any code that has timestamps can
// draw them. [ClientPhases] and [ClientTrace] adapt hop's client: the first turns a
// [client.Timings] into phases, the second is a [client.Trace] that describes each
// event in words to a [Sink] ([Printer] writes at once, [Recorder] keeps them).
//
// The package owns presentation only: no network, no measurement of its own.
package timeline
