// Validate a .glb/.gltf/.vrm with the Khronos glTF-Validator; print its report as JSON.
// Usage: node tests/js/validate_gltf.js FILE   (needs `npm install` in tests/js, done by .ci/run)
const fs = require("fs");
const path = require("path");
const validator = require("gltf-validator");

const file = process.argv[2];
const bytes = new Uint8Array(fs.readFileSync(file));
const options = {
  uri: path.basename(file),
  maxIssues: 1000,
  externalResourceFunction: (uri) =>
    new Promise((resolve, reject) => {
      fs.readFile(path.resolve(path.dirname(file), decodeURIComponent(uri)), (err, data) =>
        err ? reject(err.toString()) : resolve(new Uint8Array(data)));
    }),
};
validator.validateBytes(bytes, options)
  .then((report) => console.log(JSON.stringify(report)))
  .catch((err) => { console.error(String(err)); process.exit(1); });
