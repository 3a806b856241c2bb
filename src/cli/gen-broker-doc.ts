import { readFileSync, writeFileSync } from 'node:fs';
import { BROKER_METHODS } from '../hosted-engine/broker/catalogue.js';
import { renderBrokerDoc, spliceBrokerDoc } from '../hosted-engine/broker/docs.js';

/** gen-broker-doc FILE: rewrites the broker section of FILE (docs/hosted-engine.md) from the catalogue. */
const [file] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: gen-broker-doc FILE\n');
  process.exit(2);
}
writeFileSync(file, spliceBrokerDoc(readFileSync(file, 'utf8'), renderBrokerDoc(BROKER_METHODS)));
