// Bundled by esbuild into build/sdk.js: the Web SDK as an ES module, exposed to the test page.
import QNRTC from "qnweb-rtc";
window.QNRTC = QNRTC;
