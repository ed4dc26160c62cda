import { packageBuild } from '../../tsup.package'

export default packageBuild({ entry: ['src/index.ts', 'src/cli.ts'], dts: { entry: 'src/index.ts' } })
