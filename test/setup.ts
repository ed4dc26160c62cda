import { closeFixturesWith } from '@switchyard/testing'
import { onTestFinished } from 'vitest'

// Every fixture of @switchyard/testing made inside a test closes when that test ends.
closeFixturesWith((close) => onTestFinished(async () => void (await close())))
