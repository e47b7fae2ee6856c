// Run in the user project of check-tarballs.mjs: CommonJS code can require() the ES module on
// Node >= 20.19, as every README says.
const core = require('@machinery/core');

if (typeof core.Server !== 'function') throw new Error('require("@machinery/core") returned no Server');
console.log('require("@machinery/core") works from CommonJS');
