// The no-SDK baseline page of the fetch/XHR overhead rows (see common.js): the same runner, no SDK.
import { expose } from "./common.js";

expose("none", {
  async setup() {},
  flush: async () => {},
});
