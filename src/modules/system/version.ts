// eslint-disable-next-line @typescript-eslint/no-require-imports
export const PRODUCT_VERSION: string = require('../../../package.json').version;
